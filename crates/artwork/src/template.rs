//! Seal geometry as data: one template per style, in millimetres at the style's reference size,
//! with the conventions of `shared/reference/standards.md` §5 as defaults. A seal drawn at another
//! size scales its template; a province or customer with other conventions passes its own
//! [`Templates`] to [`render_with`](crate::render_with).

/// The round enterprise seal (standards §5.2; defaults for the 42 mm seal).
#[derive(Debug, Clone, PartialEq)]
pub struct RoundTemplate {
    /// Reference outer diameter; every length below is for this size.
    pub diameter_mm: f32,
    /// Rim width, outer edge at the diameter.
    pub rim_mm: f32,
    /// Star circumradius (tip to centre).
    pub star_radius_mm: f32,
    /// Star inner radius over outer radius (0.381966 for a regular star).
    pub star_inner_ratio: f32,
    /// Height of the organisation name's characters.
    pub name_height_mm: f32,
    /// Gap between the rim and the name.
    pub name_gap_mm: f32,
    /// Width of a name character over its height, before squeezing to fit.
    pub name_squeeze: f32,
    /// Smallest and largest arc the name spans, degrees.
    pub name_span_deg: (f32, f32),
    /// Height of the seal name (合同专用章 …).
    pub title_height_mm: f32,
    /// Distance from the centre down to the seal name's top edge (clear of the star).
    pub title_top_mm: f32,
    /// Width over height of the seal name's characters.
    pub title_squeeze: f32,
    /// Height of the 13-digit seal code's digits.
    pub code_height_mm: f32,
    /// Distance from the rim's inner edge to the code's centre line.
    pub code_inset_mm: f32,
    /// Arc the code spans along the bottom, degrees.
    pub code_span_deg: f32,
    /// Ink colour.
    pub colour: [u8; 3],
}

impl Default for RoundTemplate {
    fn default() -> Self {
        Self {
            diameter_mm: 42.0,
            rim_mm: 1.2,
            star_radius_mm: 7.0,
            star_inner_ratio: 0.381_966,
            name_height_mm: 6.5,
            name_gap_mm: 0.8,
            name_squeeze: 0.78,
            name_span_deg: (200.0, 250.0),
            title_height_mm: 4.8,
            title_top_mm: 6.5,
            title_squeeze: 0.85,
            code_height_mm: 2.0,
            code_inset_mm: 1.5,
            code_span_deg: 60.0,
            colour: crate::SEAL_RED,
        }
    }
}

/// The oval seal, on the 发票专用章 layout (standards §5.3, 国家税务总局公告2011年第7号).
#[derive(Debug, Clone, PartialEq)]
pub struct OvalTemplate {
    /// Reference width.
    pub width_mm: f32,
    /// Reference height.
    pub height_mm: f32,
    /// Rim width.
    pub rim_mm: f32,
    /// Height of the name's characters along the top.
    pub name_height_mm: f32,
    /// Gap between the rim and the name.
    pub name_gap_mm: f32,
    /// Width over height of the name's characters, before squeezing to fit.
    pub name_squeeze: f32,
    /// Smallest and largest arc the name spans, degrees.
    pub name_span_deg: (f32, f32),
    /// Height of the code's digits (the 税号) on the centre line.
    pub code_height_mm: f32,
    /// Width of one digit of the code.
    pub code_digit_width_mm: f32,
    /// Width of the whole code at most.
    pub code_width_mm: f32,
    /// Height of the seal name below the centre.
    pub title_height_mm: f32,
    /// Width of one character of the seal name.
    pub title_char_width_mm: f32,
    /// Distance from the centre down to the seal name's top edge.
    pub title_top_mm: f32,
    /// Ink colour.
    pub colour: [u8; 3],
}

impl Default for OvalTemplate {
    fn default() -> Self {
        Self {
            width_mm: 40.0,
            height_mm: 30.0,
            rim_mm: 1.0,
            name_height_mm: 4.2,
            name_gap_mm: 0.5,
            name_squeeze: 0.8,
            name_span_deg: (210.0, 260.0),
            code_height_mm: 3.7,
            code_digit_width_mm: 1.3,
            code_width_mm: 26.0,
            title_height_mm: 4.6,
            title_char_width_mm: 3.0,
            title_top_mm: 4.2,
            colour: crate::SEAL_RED,
        }
    }
}

/// The square personal seal (法定代表人章, standards §5.5).
#[derive(Debug, Clone, PartialEq)]
pub struct SquareTemplate {
    /// Reference side.
    pub side_mm: f32,
    /// Rim width.
    pub rim_mm: f32,
    /// Space between the rim and the characters.
    pub padding_mm: f32,
    /// Ink colour.
    pub colour: [u8; 3],
}

impl Default for SquareTemplate {
    fn default() -> Self {
        Self {
            side_mm: 20.0,
            rim_mm: 0.9,
            padding_mm: 0.6,
            colour: crate::SEAL_RED,
        }
    }
}

/// The professional-registration seal frame (注册建造师执业印章, standards §5.5).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameTemplate {
    /// Reference outer width.
    pub width_mm: f32,
    /// Reference outer height.
    pub height_mm: f32,
    /// Outer line width.
    pub outer_line_mm: f32,
    /// Inner oval width.
    pub inner_width_mm: f32,
    /// Inner oval height.
    pub inner_height_mm: f32,
    /// Inner line width.
    pub inner_line_mm: f32,
    /// Heading along the band when the request gives none.
    pub heading: String,
    /// Height of the heading's characters.
    pub heading_height_mm: f32,
    /// Height of the holder's name.
    pub name_height_mm: f32,
    /// Height of the registration number.
    pub code_height_mm: f32,
    /// Ink colour (dark blue).
    pub colour: [u8; 3],
}

impl Default for FrameTemplate {
    fn default() -> Self {
        Self {
            width_mm: 50.0,
            height_mm: 36.0,
            outer_line_mm: 0.6,
            inner_width_mm: 36.0,
            inner_height_mm: 22.0,
            inner_line_mm: 0.3,
            heading: "中华人民共和国一级注册建造师执业印章".into(),
            heading_height_mm: 3.6,
            name_height_mm: 5.0,
            code_height_mm: 3.2,
            colour: [0x1B, 0x3A, 0x8C],
        }
    }
}

/// One template per style; `Templates::default()` holds the conventions of standards §5.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Templates {
    /// Round enterprise seal.
    pub round: RoundTemplate,
    /// Oval seal.
    pub oval: OvalTemplate,
    /// Square personal seal.
    pub square: SquareTemplate,
    /// Professional-registration frame.
    pub frame: FrameTemplate,
}
