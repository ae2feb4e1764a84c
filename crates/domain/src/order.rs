//! The order: what an applicant asks for, for whom, and what it costs.

use serde::{Deserialize, Serialize};

use crate::money::{Fen, price_fen};
use crate::state::OrderState;
use crate::validate::{self, FieldError, Validation};

/// 业务属性 — the four services of the platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Service {
    /// 新办 — a first seal on a key.
    New,
    /// 续期 — extend the validity of seals already on a key.
    Renewal,
    /// 补办 — the key was lost: issue anew on a new key and revoke the old key's seals.
    Reissue,
    /// 变更 — new impressions for seals already on a key.
    Change,
}

impl Service {
    /// All services, in the order the portal offers them.
    pub const ALL: [Service; 4] = [
        Service::New,
        Service::Renewal,
        Service::Reissue,
        Service::Change,
    ];

    /// The seed's label.
    pub fn label(self) -> &'static str {
        match self {
            Service::New => "新办",
            Service::Renewal => "续期",
            Service::Reissue => "补办",
            Service::Change => "变更",
        }
    }

    /// The stable machine name.
    pub fn code(self) -> &'static str {
        match self {
            Service::New => "new",
            Service::Renewal => "renewal",
            Service::Reissue => "reissue",
            Service::Change => "change",
        }
    }

    /// The service named by [`Service::code`].
    pub fn from_code(s: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|x| x.code() == s)
    }

    /// Whether the applicant must upload a stamped 印模采集表 (a renewal keeps the pictures it has).
    pub fn needs_impression(self) -> bool {
        !matches!(self, Service::Renewal)
    }
}

/// 锁类型 — whose key and seals: an enterprise's (企业锁) or a person's (个人锁).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum HolderKind {
    /// 企业.
    Enterprise,
    /// 个人.
    Person,
}

impl HolderKind {
    /// 企业锁 / 个人锁.
    pub fn label(self) -> &'static str {
        match self {
            HolderKind::Enterprise => "企业锁",
            HolderKind::Person => "个人锁",
        }
    }
    /// The stable machine name.
    pub fn code(self) -> &'static str {
        match self {
            HolderKind::Enterprise => "enterprise",
            HolderKind::Person => "person",
        }
    }
    /// GB/T 38540 `ES_PropertyInfo.type`: 1 单位印章, 2 个人印章.
    pub fn ses_type(self) -> i64 {
        match self {
            HolderKind::Enterprise => 1,
            HolderKind::Person => 2,
        }
    }
}

/// 印模类型 — the kinds of seal the seed lists, per holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum SealKind {
    /// 企业公章.
    OfficialSeal,
    /// 企业资质印章.
    QualificationSeal,
    /// 动态输入章.
    DynamicInputSeal,
    /// 其他章 (企业).
    EnterpriseOther,
    /// 法人章.
    LegalRepresentative,
    /// 注册建造师.
    RegisteredConstructor,
    /// 注册监理师.
    RegisteredSupervisor,
    /// 造价师.
    CostEngineer,
    /// 造价员.
    CostClerk,
    /// 手写签字.
    HandwrittenSignature,
    /// 其他章 (个人).
    PersonalOther,
}

impl SealKind {
    /// Every kind, enterprise kinds first.
    pub const ALL: [SealKind; 11] = [
        SealKind::OfficialSeal,
        SealKind::QualificationSeal,
        SealKind::DynamicInputSeal,
        SealKind::EnterpriseOther,
        SealKind::LegalRepresentative,
        SealKind::RegisteredConstructor,
        SealKind::RegisteredSupervisor,
        SealKind::CostEngineer,
        SealKind::CostClerk,
        SealKind::HandwrittenSignature,
        SealKind::PersonalOther,
    ];

    /// The seed's label.
    pub fn label(self) -> &'static str {
        match self {
            SealKind::OfficialSeal => "企业公章",
            SealKind::QualificationSeal => "企业资质印章",
            SealKind::DynamicInputSeal => "动态输入章",
            SealKind::EnterpriseOther | SealKind::PersonalOther => "其他章",
            SealKind::LegalRepresentative => "法人章",
            SealKind::RegisteredConstructor => "注册建造师",
            SealKind::RegisteredSupervisor => "注册监理师",
            SealKind::CostEngineer => "造价师",
            SealKind::CostClerk => "造价员",
            SealKind::HandwrittenSignature => "手写签字",
        }
    }

    /// The stable machine name.
    pub fn code(self) -> &'static str {
        match self {
            SealKind::OfficialSeal => "official_seal",
            SealKind::QualificationSeal => "qualification_seal",
            SealKind::DynamicInputSeal => "dynamic_input_seal",
            SealKind::EnterpriseOther => "enterprise_other",
            SealKind::LegalRepresentative => "legal_representative",
            SealKind::RegisteredConstructor => "registered_constructor",
            SealKind::RegisteredSupervisor => "registered_supervisor",
            SealKind::CostEngineer => "cost_engineer",
            SealKind::CostClerk => "cost_clerk",
            SealKind::HandwrittenSignature => "handwritten_signature",
            SealKind::PersonalOther => "personal_other",
        }
    }

    /// The kind named by [`SealKind::code`].
    pub fn from_code(s: &str) -> Option<SealKind> {
        SealKind::ALL.into_iter().find(|k| k.code() == s)
    }

    /// Whose kind it is.
    pub fn holder(self) -> HolderKind {
        match self {
            SealKind::OfficialSeal
            | SealKind::QualificationSeal
            | SealKind::DynamicInputSeal
            | SealKind::EnterpriseOther => HolderKind::Enterprise,
            _ => HolderKind::Person,
        }
    }

    /// The kinds a holder may order.
    pub fn for_holder(h: HolderKind) -> impl Iterator<Item = SealKind> {
        SealKind::ALL.into_iter().filter(move |k| k.holder() == h)
    }

    /// The usual true size (width, height in mm) of an impression of this kind, used where the project has
    /// registered none: 42 mm round for company seals, 20 mm square for 法人章, the 50 × 36 mm frame of the
    /// 执业印章, 50 × 25 mm for a 手写签字.
    pub fn usual_size_mm(self) -> (u16, u16) {
        match self {
            SealKind::OfficialSeal
            | SealKind::QualificationSeal
            | SealKind::DynamicInputSeal
            | SealKind::EnterpriseOther => (42, 42),
            SealKind::LegalRepresentative | SealKind::PersonalOther => (20, 20),
            SealKind::RegisteredConstructor
            | SealKind::RegisteredSupervisor
            | SealKind::CostEngineer
            | SealKind::CostClerk => (50, 36),
            SealKind::HandwrittenSignature => (50, 25),
        }
    }
}

/// A project's registered size of one seal kind (印章宽度/高度), in whole millimetres.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealSize {
    /// The kind.
    pub kind: SealKind,
    /// 宽度 (mm).
    pub width_mm: u16,
    /// 高度 (mm).
    pub height_mm: u16,
}

/// `official_seal:40x40`: how settings and the audit log write a registered size.
impl std::fmt::Display for SealSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}x{}",
            self.kind.code(),
            self.width_mm,
            self.height_mm
        )
    }
}

impl SealSize {
    /// The true size (width, height in mm) of `kind` among registered `sizes`, else its usual size.
    pub fn of(sizes: &[SealSize], kind: SealKind) -> (u16, u16) {
        sizes
            .iter()
            .find(|s| s.kind == kind)
            .map(|s| (s.width_mm, s.height_mm))
            .unwrap_or_else(|| kind.usual_size_mm())
    }

    /// The smallest and largest side a registered size may have (mm): a 手写签字 can be small, no seal is larger
    /// than the 印模采集表's box can hold on A4.
    pub const RANGE_MM: std::ops::RangeInclusive<u16> = 10..=90;

    /// A size typed by an administrator (`42`, `40x30`, `40×30`, `40*30`), checked against [`SealSize::RANGE_MM`].
    pub fn parse(kind: SealKind, text: &str) -> Result<SealSize, String> {
        let t = text.trim();
        let (w, h) = match t.split_once(['x', 'X', '×', '*']) {
            Some((w, h)) => (w.trim(), h.trim()),
            None => (t, t),
        };
        let side = |v: &str| -> Result<u16, String> {
            let n: u16 = v.parse().map_err(|_| {
                format!(
                    "「{}」的尺寸「{t}」应为毫米数，如 42 或 40x30",
                    kind.label()
                )
            })?;
            if SealSize::RANGE_MM.contains(&n) {
                Ok(n)
            } else {
                Err(format!(
                    "「{}」的尺寸 {n} mm 超出 {}–{} mm",
                    kind.label(),
                    SealSize::RANGE_MM.start(),
                    SealSize::RANGE_MM.end()
                ))
            }
        };
        Ok(SealSize {
            kind,
            width_mm: side(w)?,
            height_mm: side(h)?,
        })
    }
}

/// 申请人信息 and 企业信息: who the seals are for.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Holder {
    /// 锁类型.
    pub kind: Option<HolderKind>,
    /// 申请人姓名.
    pub applicant_name: String,
    /// 身份证号码.
    pub id_number: String,
    /// 手机号 — where the SMS go.
    pub mobile: String,
    /// 企业名称 (enterprise only).
    pub enterprise_name: String,
    /// 企业电话.
    pub enterprise_phone: String,
    /// 统一社会信用代码/证号.
    pub credit_code: String,
    /// 营业地址.
    pub address: String,
}

impl Holder {
    /// The name that goes on the seals and the key: the enterprise's, or the person's.
    pub fn display_name(&self) -> &str {
        match self.kind {
            Some(HolderKind::Enterprise) => &self.enterprise_name,
            _ => &self.applicant_name,
        }
    }
}

/// One line of the seals requested: a kind, how many, and the text on the seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SealLine {
    /// 印模类型.
    pub kind: SealKind,
    /// How many seals of this kind (1–10).
    pub count: u32,
    /// 印章名称, e.g. 「某某有限公司」 or 「张三」; defaults to the holder's name.
    #[serde(default)]
    pub name: String,
}

/// One seal of the earlier order that a 续期 or 变更 acts on (所选印章): 续期 renews it with its picture, name
/// and kind; 变更 makes it again from a new impression, under `name` when one is given, and revokes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChosenSeal {
    /// The earlier seal's esID, as the key and 我的订单 show it.
    pub es_id: String,
    /// 变更 only: the new 印章名称; empty keeps the earlier seal's name.
    #[serde(default)]
    pub name: String,
}

/// 在线手写签字: a 手写签字 drawn on the portal's signature pad, the picture every 手写签字 seal of the order
/// carries (instead of a signature written in its box of the 印模采集表).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PadSignature {
    /// Where the picture (a transparent PNG at the registered size) is kept.
    pub blob_key: String,
    /// SM3 of the PNG.
    pub sm3: String,
    /// Its width, mm.
    pub width_mm: i64,
    /// Its height, mm.
    pub height_mm: i64,
}

/// 印模确认: for a 印模采集表 read without its QR code (so without its boxes), which of the impressions found the
/// applicant confirmed for each seal. It holds for that scan only: a new upload needs a new confirmation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfirmedCutouts {
    /// SM3 of the scan confirmed.
    pub form_sm3: String,
    /// For seal *i* (in [`Order::seal_units`] order), the index of its impression in the order the scan was read.
    pub pick: Vec<usize>,
}

impl ConfirmedCutouts {
    /// From what the applicant chose for each impression found (`seal_of[j]`: the seal impression *j* is), for
    /// an order of `n` seals: each seal exactly once, or the problem in Chinese.
    pub fn from_choice(form_sm3: &str, seal_of: &[usize], n: usize) -> Result<Self, String> {
        if seal_of.len() != n {
            return Err(format!(
                "印模采集表上有 {} 枚印模，本订单有 {n} 枚印章，请重新上传",
                seal_of.len()
            ));
        }
        let mut pick = vec![usize::MAX; n];
        for (j, &i) in seal_of.iter().enumerate() {
            let slot = pick
                .get_mut(i)
                .ok_or_else(|| format!("第 {} 枚印模选择的印章不存在", j + 1))?;
            if *slot != usize::MAX {
                return Err(format!(
                    "第 {} 枚印章选了两枚印模（第 {} 枚和第 {} 枚），每枚印章只能对应一枚印模",
                    i + 1,
                    *slot + 1,
                    j + 1
                ));
            }
            *slot = j;
        }
        Ok(ConfirmedCutouts {
            form_sm3: form_sm3.to_owned(),
            pick,
        })
    }
}

/// 授权信息: the project the seals are authorised for, and for how long.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Authorization {
    /// 授权单位 — the project's display name.
    pub unit: String,
    /// 授权类型: always 期限 (a term) for now.
    pub kind: String,
    /// 授权期限（月）, 1–60; the seed's default is 12.
    pub months: u32,
    /// The project's registered seal sizes when the order was created (印章 宽度/高度 of 导入信息), kept with the
    /// order so that its 印模采集表 prints and reads with the same boxes even if the project changes them later.
    /// Set by the server, never by the applicant; a kind not listed has its [`SealKind::usual_size_mm`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sizes: Vec<SealSize>,
}

impl Authorization {
    /// The true size (width, height in mm) of `kind`'s impressions in this order.
    pub fn size_mm(&self, kind: SealKind) -> (u16, u16) {
        SealSize::of(&self.sizes, kind)
    }
}

impl Default for Authorization {
    fn default() -> Self {
        Authorization {
            unit: String::new(),
            kind: "期限".into(),
            months: 12,
            sizes: Vec::new(),
        }
    }
}

/// 发票类型.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InvoiceKind {
    /// 企业.
    #[default]
    Enterprise,
    /// 政府或事业单位.
    Institution,
    /// 个人.
    Personal,
}

impl InvoiceKind {
    /// The seed's label.
    pub fn label(self) -> &'static str {
        match self {
            InvoiceKind::Enterprise => "企业",
            InvoiceKind::Institution => "政府或事业单位",
            InvoiceKind::Personal => "个人",
        }
    }
}

impl InvoiceKind {
    /// The label of the 抬头 field for this kind, as the dialog shows it.
    pub fn title_label(self) -> &'static str {
        match self {
            InvoiceKind::Enterprise => "企业名称",
            InvoiceKind::Institution => "单位名称",
            InvoiceKind::Personal => "姓名",
        }
    }
}

/// 发票种类: 增值税电子普通发票 (普票) or 增值税专用发票 (专票).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum InvoiceForm {
    /// 普票: anyone may take it; the buyer's address and bank are optional.
    #[default]
    Ordinary,
    /// 专票: only for an enterprise or institution that deducts input VAT; every buyer field is required.
    Special,
}

impl InvoiceForm {
    /// The label shown to applicants and printed in lists.
    pub fn label(self) -> &'static str {
        match self {
            InvoiceForm::Ordinary => "增值税电子普通发票",
            InvoiceForm::Special => "增值税专用发票",
        }
    }
}

/// 申请开票: what the applicant confirmed for the electronic invoice.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvoiceInfo {
    /// 发票类型.
    pub kind: InvoiceKind,
    /// 发票种类 (普票 unless 专票 is asked for).
    #[serde(default)]
    pub form: InvoiceForm,
    /// 企业名称 / 单位名称 / 姓名: the 抬头.
    pub title: String,
    /// 纳税人识别号 (required for enterprises and for every 专票).
    pub taxpayer_id: String,
    /// 手机号 the invoice notice goes to.
    pub mobile: String,
    /// 邮箱 (optional): the invoice PDF is e-mailed there.
    pub email: String,
    /// 地址 (展开非必填信息; required on 专票).
    #[serde(default)]
    pub address: String,
    /// 电话 (展开非必填信息; required on 专票).
    #[serde(default)]
    pub phone: String,
    /// 开户银行 (展开非必填信息; required on 专票).
    #[serde(default)]
    pub bank: String,
    /// 银行账号 (展开非必填信息; required on 专票).
    #[serde(default)]
    pub account: String,
}

impl InvoiceInfo {
    /// Checks the fields the way the seed's 申请开票 dialog requires them: the 抬头 by the kind's label, the
    /// taxpayer number for enterprises, and on a 专票 every buyer field (which a person cannot take).
    pub fn validate(&self) -> Result<InvoiceInfo, Vec<FieldError>> {
        let mut v = Validation::default();
        let mut out = self.clone();
        out.title = v.text("invoice.title", self.kind.title_label(), &self.title, 100);
        let special = self.form == InvoiceForm::Special;
        if special && self.kind == InvoiceKind::Personal {
            v.add(
                "invoice.form",
                "个人不能开具增值税专用发票，请选择增值税电子普通发票",
            );
        }
        let taxpayer_required = self.kind == InvoiceKind::Enterprise || special;
        if taxpayer_required && self.taxpayer_id.trim().is_empty() {
            v.add("invoice.taxpayer_id", "请填写纳税人识别号");
        } else if taxpayer_required || !self.taxpayer_id.trim().is_empty() {
            out.taxpayer_id = v.check(
                "invoice.taxpayer_id",
                &self.taxpayer_id,
                validate::taxpayer_id,
            );
        }
        out.mobile = v.check("invoice.mobile", &self.mobile, validate::mobile);
        out.email = self.email.trim().to_owned();
        if !out.email.is_empty() && (!out.email.contains('@') || out.email.len() > 100) {
            v.add("invoice.email", "邮箱格式不正确");
        }
        for (field, label, value, max, slot) in [
            (
                "invoice.address",
                "地址",
                &self.address,
                100,
                &mut out.address,
            ),
            ("invoice.phone", "电话", &self.phone, 30, &mut out.phone),
            ("invoice.bank", "开户银行", &self.bank, 60, &mut out.bank),
            (
                "invoice.account",
                "银行账号",
                &self.account,
                40,
                &mut out.account,
            ),
        ] {
            let trimmed = value.trim();
            if trimmed.is_empty() {
                if special {
                    v.add(field, format!("开具增值税专用发票须填写{label}"));
                }
                *slot = String::new();
            } else {
                *slot = v.text(field, label, trimmed, max);
            }
        }
        if !out.account.is_empty()
            && !out
                .account
                .chars()
                .all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        {
            v.add("invoice.account", "银行账号只能包含数字");
        }
        v.finish().map(|()| out)
    }

    /// 地址、电话 as one invoice line.
    pub fn address_phone(&self) -> String {
        join_nonempty(&self.address, &self.phone)
    }

    /// 开户行及账号 as one invoice line.
    pub fn bank_account(&self) -> String {
        join_nonempty(&self.bank, &self.account)
    }
}

fn join_nonempty(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_owned(),
        (_, true) => a.to_owned(),
        _ => format!("{a} {b}"),
    }
}

/// 资料上传: which document an uploaded file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum UploadKind {
    /// 身份证人像面.
    IdFront,
    /// 身份证国徽面.
    IdBack,
    /// 统一社会信用代码证 / 营业执照复印件, stamped.
    Licence,
    /// 印模采集表, signed and stamped.
    ImpressionForm,
}

impl UploadKind {
    /// Every kind.
    pub const ALL: [UploadKind; 4] = [
        UploadKind::IdFront,
        UploadKind::IdBack,
        UploadKind::Licence,
        UploadKind::ImpressionForm,
    ];
    /// The label on the form.
    pub fn label(self) -> &'static str {
        match self {
            UploadKind::IdFront => "身份证（人像面）",
            UploadKind::IdBack => "身份证（国徽面）",
            UploadKind::Licence => "统一社会信用代码证",
            UploadKind::ImpressionForm => "印模采集表",
        }
    }
    /// The stable machine name.
    pub fn code(self) -> &'static str {
        match self {
            UploadKind::IdFront => "id_front",
            UploadKind::IdBack => "id_back",
            UploadKind::Licence => "licence",
            UploadKind::ImpressionForm => "impression_form",
        }
    }
    /// The kind named by [`UploadKind::code`].
    pub fn from_code(s: &str) -> Option<UploadKind> {
        UploadKind::ALL.into_iter().find(|k| k.code() == s)
    }
    /// Whether a PDF is accepted (the seed allows PDF for the impression form only).
    pub fn accepts_pdf(self) -> bool {
        self == UploadKind::ImpressionForm
    }
}

/// What the applicant's UKey told us at 授权: its serial and certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyBinding {
    /// 密钥序列号.
    pub serial: String,
    /// The key's X.509 certificate, DER, hex.
    pub cert_der_hex: String,
    /// 证书主题, as read from the certificate.
    pub subject: String,
}

/// One coded reason of a 审核不通过 (from the catalogue an administrator edits), tied to the form field or upload
/// it concerns, so that the applicant's form shows it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReviewReason {
    /// The catalogue code, e.g. `licence_mismatch`.
    pub code: String,
    /// The form field or upload it concerns (`holder.credit_code`, `uploads.licence`), or "" for the order.
    pub field: String,
    /// The text as it was when the order was rejected.
    pub text: String,
}

/// An electronic-seal order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Internal id (a snowflake, also the tail of the order number).
    pub id: i64,
    /// 订单编号.
    pub order_no: String,
    /// The project (授权单位) the order belongs to.
    pub project_id: i64,
    /// The applicant who owns it.
    pub applicant_id: i64,
    /// 业务属性.
    pub service: Service,
    /// 印章办理状态.
    pub state: OrderState,
    /// Who the seals are for.
    pub holder: Holder,
    /// What seals.
    pub seals: Vec<SealLine>,
    /// For how long and for whom.
    pub authorization: Authorization,
    /// 订单金额, computed by the server.
    pub total: Fen,
    /// The last 审核意见, if rejected.
    pub review_comment: String,
    /// The coded reasons of the last rejection.
    #[serde(default)]
    pub review_reasons: Vec<ReviewReason>,
    /// 申请开票 details, once confirmed.
    pub invoice: Option<InvoiceInfo>,
    /// The key bound at 授权.
    pub key: Option<KeyBinding>,
    /// For 续期 / 变更 / 补办: the order whose seals this one continues.
    pub previous_order: Option<i64>,
    /// For 续期 / 变更 of an earlier order: which of its seals (none listed: every seal that still stands for a
    /// 续期; for a 变更, the seals are the lines as typed and all earlier ones are replaced).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chosen_seals: Vec<ChosenSeal>,
    /// 印模确认 of the current 印模采集表, when it was read without its QR code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_cutouts: Option<ConfirmedCutouts>,
    /// 在线手写签字, once drawn: the picture of the order's 手写签字 seals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pad_signature: Option<PadSignature>,
    /// 开标日期 (`YYYY-MM-DD`) of the tender the seals are needed for, if the applicant gave one: the review
    /// queue marks an order whose bid opening is near as 加急.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bid_opening: Option<String>,
    /// Optimistic-concurrency version: bumped on every write.
    pub version: i64,
    /// RFC 3339 UTC.
    pub created_at: String,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// The applicant's form before it becomes (part of) an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderForm {
    /// 业务属性.
    pub service: Option<Service>,
    /// 申请人 / 企业信息.
    pub holder: Holder,
    /// The seals requested.
    pub seals: Vec<SealLine>,
    /// 授权期限（月）.
    pub months: u32,
    /// For 续期 / 变更: the earlier order.
    pub previous_order: Option<i64>,
    /// For 续期 / 变更: which of the earlier order's seals (see [`Order::chosen_seals`]).
    pub chosen_seals: Vec<ChosenSeal>,
    /// 开标日期 (`YYYY-MM-DD`), optional.
    pub bid_opening: Option<String>,
}

impl Default for OrderForm {
    fn default() -> Self {
        OrderForm {
            service: Some(Service::New),
            holder: Holder::default(),
            seals: Vec::new(),
            months: 12,
            previous_order: None,
            chosen_seals: Vec::new(),
            bid_opening: None,
        }
    }
}

impl OrderForm {
    /// Checks every field and returns the normalised form, or all problems at once.
    ///
    /// `draft` relaxes the required-field rule (暂存待办 may be incomplete) but still refuses malformed values
    /// and anything out of range, so that a draft never holds data that could not be shown back.
    pub fn validate(&self, today: u32, draft: bool) -> Result<OrderForm, Vec<FieldError>> {
        let mut v = Validation::default();
        let mut out = self.clone();
        let h = &self.holder;
        let filled = |s: &str| !s.trim().is_empty();
        if out.service.is_none() {
            v.add("service", "请选择业务类型（新办、续期、补办或变更）");
        }
        let Some(kind) = h.kind else {
            v.add("holder.kind", "请选择锁类型：企业或个人");
            return v.finish().map(|()| out);
        };
        let want = |f: &str| !draft || filled(f);
        if want(&h.applicant_name) {
            out.holder.applicant_name =
                v.text("holder.applicant_name", "申请人姓名", &h.applicant_name, 50);
        }
        if want(&h.id_number) {
            out.holder.id_number = v.check("holder.id_number", &h.id_number, |s| {
                validate::id_number(s, 99_991_231)
            });
            if validate::id_number(&h.id_number, today).is_err()
                && validate::id_number(&h.id_number, 99_991_231).is_ok()
            {
                v.add("holder.id_number", "身份证号码中的出生日期晚于今天");
            }
        }
        if want(&h.mobile) {
            out.holder.mobile = v.check("holder.mobile", &h.mobile, validate::mobile);
        }
        out.bid_opening = match self.bid_opening.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => match crate::workdays::parse_date(t) {
                None => {
                    v.add(
                        "bid_opening",
                        format!("开标日期「{t}」应为 YYYY-MM-DD 格式的日期"),
                    );
                    None
                }
                Some(d) => {
                    let ymd = d.year() as u32 * 10_000
                        + u32::from(u8::from(d.month())) * 100
                        + u32::from(d.day());
                    if ymd < today {
                        v.add(
                            "bid_opening",
                            "开标日期已过，请填写今天或以后的日期，或留空",
                        );
                    }
                    Some(d.to_string())
                }
            },
        };
        if kind == HolderKind::Enterprise {
            if want(&h.enterprise_name) {
                out.holder.enterprise_name = v.text(
                    "holder.enterprise_name",
                    "企业名称",
                    &h.enterprise_name,
                    100,
                );
            }
            if want(&h.enterprise_phone) {
                out.holder.enterprise_phone = v.check(
                    "holder.enterprise_phone",
                    &h.enterprise_phone,
                    validate::landline,
                );
            }
            if want(&h.credit_code) {
                out.holder.credit_code =
                    v.check("holder.credit_code", &h.credit_code, validate::credit_code);
            }
            if want(&h.address) {
                out.holder.address = v.text("holder.address", "营业地址", &h.address, 200);
            }
        } else {
            out.holder.enterprise_name.clear();
            out.holder.enterprise_phone.clear();
            out.holder.credit_code.clear();
            out.holder.address.clear();
        }
        if self.seals.is_empty() && !draft {
            v.add("seals", "请至少选择一种印模类型");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, line) in out.seals.iter_mut().enumerate() {
            let f = format!("seals[{i}]");
            if line.kind.holder() != kind {
                v.add(
                    &f,
                    format!(
                        "「{}」不是{}可以办理的印章",
                        line.kind.label(),
                        kind.label()
                    ),
                );
            }
            if !(1..=10).contains(&line.count) {
                v.add(&f, "每种印章数量应为 1–10 个");
            }
            if !seen.insert((line.kind, line.name.trim().to_owned())) {
                v.add(&f, format!("「{}」重复选择", line.kind.label()));
            }
            let name = line.name.trim();
            line.name = if name.is_empty() {
                out.holder.display_name().trim().to_owned()
            } else {
                name.to_owned()
            };
            if line.name.chars().count() > 40 {
                v.add(&f, "印章名称不能超过 40 个字");
            }
        }
        if !(1..=60).contains(&self.months) {
            v.add("months", "授权期限应为 1–60 个月");
        }
        // Only a 续期 or 变更 of an earlier order chooses among its seals.
        let chooses = matches!(out.service, Some(Service::Renewal | Service::Change))
            && out.previous_order.is_some();
        if !chooses {
            out.chosen_seals.clear();
        }
        let mut chosen = std::collections::HashSet::new();
        for c in &mut out.chosen_seals {
            c.es_id = c.es_id.trim().to_owned();
            c.name = c.name.trim().to_owned();
            if c.es_id.is_empty()
                || c.es_id.len() > 64
                || !c
                    .es_id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                v.add("chosen_seals", "所选印章的编号无效，请从原订单的印章中选择");
            } else if !chosen.insert(c.es_id.clone()) {
                v.add("chosen_seals", format!("印章 {} 重复选择", c.es_id));
            }
            if out.service != Some(Service::Change) {
                c.name.clear();
            } else if c.name.chars().count() > 40 {
                v.add("chosen_seals", "印章名称不能超过 40 个字");
            } else if c.name.chars().any(char::is_control) {
                v.add("chosen_seals", "印章名称含有不可见的控制字符");
            }
        }
        v.finish().map(|()| out)
    }

    /// The number of seals requested.
    pub fn seal_count(&self) -> u32 {
        self.seals.iter().map(|l| l.count).sum()
    }

    /// 订单金额 at `per_seal_year` — the only place a price is computed.
    pub fn price(&self, per_seal_year: Fen) -> Option<Fen> {
        price_fen(per_seal_year, self.seal_count(), self.months)
    }
}

impl Order {
    /// The coded reasons of the rejection that concern `field` (a form field such as `holder.credit_code`, or
    /// `uploads.<kind>`), while the order stands rejected; `、`-joined, `None` if there are none.
    pub fn review_reason(&self, field: &str) -> Option<String> {
        if self.state != crate::OrderState::Rejected {
            return None;
        }
        let texts: Vec<&str> = self
            .review_reasons
            .iter()
            .filter(|r| r.field == field)
            .map(|r| r.text.as_str())
            .collect();
        (!texts.is_empty()).then(|| texts.join("；"))
    }

    /// [`Order::review_reason`] of an upload.
    pub fn upload_reason(&self, kind: UploadKind) -> Option<String> {
        self.review_reason(&format!("uploads.{}", kind.code()))
    }

    /// The uploads still missing before the order can be submitted.
    pub fn missing_uploads(&self, have: &[UploadKind]) -> Vec<UploadKind> {
        let mut need = self.required_uploads();
        need.retain(|k| !have.contains(k));
        need
    }

    /// The documents this order needs: ID both sides, the licence for an enterprise, and the stamped form
    /// unless the service keeps the seals' pictures.
    pub fn required_uploads(&self) -> Vec<UploadKind> {
        let mut need = vec![UploadKind::IdFront, UploadKind::IdBack];
        if self.holder.kind == Some(HolderKind::Enterprise) {
            need.push(UploadKind::Licence);
        }
        if self.service.needs_impression()
            && !self.keeps_pictures()
            && !self.form_units().is_empty()
        {
            need.push(UploadKind::ImpressionForm);
        }
        need
    }

    /// Whether the order has 手写签字 seals, whose picture may be drawn on the signature pad.
    pub fn signs_on_pad(&self) -> bool {
        self.seals
            .iter()
            .any(|l| l.kind == SealKind::HandwrittenSignature)
    }

    /// The seals whose pictures come from the 印模采集表, one per unit in form order: all of them, but the
    /// 手写签字 ones once a signature is drawn on the pad.
    pub fn form_units(&self) -> Vec<(SealKind, String)> {
        let drawn = self.pad_signature.is_some();
        self.seal_units()
            .into_iter()
            .filter(|(k, _)| !(drawn && *k == SealKind::HandwrittenSignature))
            .collect()
    }

    /// A 补办 of an earlier order reissues its seals with their pictures unless a new 印模采集表 is uploaded.
    pub fn keeps_pictures(&self) -> bool {
        self.service == Service::Reissue && self.previous_order.is_some()
    }

    /// The documents the order's page offers: those required, and the 印模采集表 a 补办 may add for new pictures.
    pub fn offered_uploads(&self) -> Vec<UploadKind> {
        let mut offer = self.required_uploads();
        if self.keeps_pictures() {
            offer.push(UploadKind::ImpressionForm);
        }
        offer
    }

    /// The order's form as the applicant filled it, for editing or re-checking.
    pub fn form(&self) -> OrderForm {
        OrderForm {
            service: Some(self.service),
            holder: self.holder.clone(),
            seals: self.seals.clone(),
            months: self.authorization.months,
            previous_order: self.previous_order,
            chosen_seals: self.chosen_seals.clone(),
            bid_opening: self.bid_opening.clone(),
        }
    }

    /// The seals of the order, one per unit requested, in form order: (kind, name).
    pub fn seal_units(&self) -> Vec<(SealKind, String)> {
        self.seals
            .iter()
            .flat_map(|l| std::iter::repeat_n((l.kind, l.name.clone()), l.count as usize))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enterprise_invoice() -> InvoiceInfo {
        InvoiceInfo {
            kind: InvoiceKind::Enterprise,
            title: "北筑设计研究院有限公司".into(),
            taxpayer_id: "91110108551385082Q".into(),
            mobile: "13800138000".into(),
            ..InvoiceInfo::default()
        }
    }

    fn messages(r: Result<InvoiceInfo, Vec<FieldError>>) -> Vec<(String, String)> {
        r.unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.message))
            .collect()
    }

    #[test]
    fn an_ordinary_invoice_leaves_the_folded_fields_optional() {
        let ok = enterprise_invoice().validate().unwrap();
        assert_eq!(ok.form, InvoiceForm::Ordinary);
        assert_eq!(
            (ok.address_phone(), ok.bank_account()),
            (String::new(), String::new())
        );
        let mut personal = InvoiceInfo {
            kind: InvoiceKind::Personal,
            title: " 李四 ".into(),
            mobile: "13800138000".into(),
            phone: " 0791-88888888 ".into(),
            ..InvoiceInfo::default()
        };
        let ok = personal.clone().validate().unwrap();
        assert_eq!(
            (ok.title.as_str(), ok.address_phone().as_str()),
            ("李四", "0791-88888888")
        );
        personal.title.clear();
        assert_eq!(
            messages(personal.validate()),
            [("invoice.title".to_owned(), "请填写姓名".to_owned())]
        );
    }

    #[test]
    fn a_special_invoice_needs_every_buyer_field_and_no_person_takes_one() {
        let mut special = InvoiceInfo {
            form: InvoiceForm::Special,
            address: "南昌市红谷滩区丰和中大道 1 号".into(),
            phone: "0791-88888888".into(),
            ..enterprise_invoice()
        };
        assert_eq!(
            messages(special.clone().validate()),
            [
                (
                    "invoice.bank".to_owned(),
                    "开具增值税专用发票须填写开户银行".to_owned()
                ),
                (
                    "invoice.account".to_owned(),
                    "开具增值税专用发票须填写银行账号".to_owned()
                ),
            ]
        );
        special.bank = "中国工商银行南昌分行".into();
        special.account = "1502 2010 0901 2345 678".into();
        let ok = special.clone().validate().unwrap();
        assert_eq!(
            ok.bank_account(),
            "中国工商银行南昌分行 1502 2010 0901 2345 678"
        );
        assert_eq!(
            ok.address_phone(),
            "南昌市红谷滩区丰和中大道 1 号 0791-88888888"
        );
        special.account = "账号1502".into();
        assert_eq!(
            messages(special.clone().validate()),
            [(
                "invoice.account".to_owned(),
                "银行账号只能包含数字".to_owned()
            )]
        );
        let institution = InvoiceInfo {
            kind: InvoiceKind::Institution,
            taxpayer_id: String::new(),
            account: "15022010090123456".into(),
            ..special.clone()
        };
        assert_eq!(
            messages(institution.validate()),
            [(
                "invoice.taxpayer_id".to_owned(),
                "请填写纳税人识别号".to_owned()
            )]
        );
        let person = InvoiceInfo {
            kind: InvoiceKind::Personal,
            account: "15022010090123456".into(),
            ..special
        };
        assert_eq!(
            messages(person.validate())[0],
            (
                "invoice.form".to_owned(),
                "个人不能开具增值税专用发票，请选择增值税电子普通发票".to_owned()
            )
        );
    }

    #[test]
    fn invoices_stored_before_the_special_form_read_as_ordinary() {
        let old: InvoiceInfo = serde_json::from_str(
            r#"{"kind":"enterprise","title":"甲","taxpayer_id":"91110108551385082Q","mobile":"13800138000","email":""}"#,
        )
        .unwrap();
        assert_eq!((old.form, old.bank.as_str()), (InvoiceForm::Ordinary, ""));
    }

    fn enterprise_form() -> OrderForm {
        OrderForm {
            service: Some(Service::New),
            holder: Holder {
                kind: Some(HolderKind::Enterprise),
                applicant_name: "李四".into(),
                id_number: "11010519491231002x".into(),
                mobile: "138 0013 8000".into(),
                enterprise_name: "北筑设计研究院有限公司".into(),
                enterprise_phone: "0791-82221588".into(),
                credit_code: "91110108551385082Q".into(),
                address: "北京市西城区南礼士路62号".into(),
            },
            seals: vec![
                SealLine {
                    kind: SealKind::OfficialSeal,
                    count: 1,
                    name: String::new(),
                },
                SealLine {
                    kind: SealKind::QualificationSeal,
                    count: 1,
                    name: "资质专用章".into(),
                },
            ],
            months: 12,
            previous_order: None,
            chosen_seals: Vec::new(),
            bid_opening: None,
        }
    }

    #[test]
    fn a_good_form_normalises_and_prices_at_80_yuan_per_seal_year() {
        let f = enterprise_form().validate(20261127, false).unwrap();
        assert_eq!(f.holder.id_number, "11010519491231002X");
        assert_eq!(f.holder.mobile, "13800138000");
        assert_eq!(f.seals[0].name, "北筑设计研究院有限公司");
        assert_eq!(
            f.price(crate::DEFAULT_PRICE_FEN_PER_SEAL_YEAR),
            Some(Fen(16_000))
        );
    }

    #[test]
    fn every_bad_field_is_reported_at_once_in_chinese() {
        let mut f = enterprise_form();
        f.holder.credit_code = "913617481036174810".into();
        f.holder.mobile = "12345678901".into();
        f.seals.push(SealLine {
            kind: SealKind::LegalRepresentative,
            count: 0,
            name: String::new(),
        });
        f.months = 0;
        let errs = f.validate(20261127, false).unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"holder.credit_code"));
        assert!(fields.contains(&"holder.mobile"));
        assert!(fields.contains(&"seals[2]"));
        assert!(fields.contains(&"months"));
        assert!(
            errs.iter()
                .any(|e| e.message.contains("不是企业锁可以办理的印章"))
        );
    }

    /// Only a 续期 or 变更 of an earlier order chooses among its seals; a chosen esID must look like one and
    /// come once; a new name is kept for a 变更 only.
    #[test]
    fn chosen_seals_belong_to_a_renewal_or_change_of_an_earlier_order() {
        let pick = |id: &str, name: &str| ChosenSeal {
            es_id: id.into(),
            name: name.into(),
        };
        let mut f = enterprise_form();
        f.chosen_seals = vec![pick("SD101", "新名称")];
        assert!(
            f.validate(20261127, true).unwrap().chosen_seals.is_empty(),
            "a 新办 chooses nothing"
        );
        f.service = Some(Service::Renewal);
        f.previous_order = Some(7);
        assert_eq!(
            f.validate(20261127, true).unwrap().chosen_seals,
            [pick("SD101", "")],
            "a renewal keeps the seal's name"
        );
        f.service = Some(Service::Change);
        f.chosen_seals = vec![pick(" SD101 ", " 新名称 ")];
        assert_eq!(
            f.validate(20261127, true).unwrap().chosen_seals,
            [pick("SD101", "新名称")]
        );
        f.chosen_seals = vec![pick("SD101", ""), pick("SD101", ""), pick("SD1'--", "")];
        let errs: Vec<String> = f
            .validate(20261127, true)
            .unwrap_err()
            .into_iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        assert_eq!(
            errs,
            [
                "chosen_seals: 印章 SD101 重复选择",
                "chosen_seals: 所选印章的编号无效，请从原订单的印章中选择"
            ]
        );
    }

    /// 印模确认: each seal exactly one impression; the problems named.
    #[test]
    fn confirmed_cutouts_give_each_seal_one_impression() {
        let c = ConfirmedCutouts::from_choice("ab", &[2, 0, 1], 3).unwrap();
        assert_eq!(
            c.pick,
            [1, 2, 0],
            "seal 1 is impression 2, seal 2 impression 3, seal 3 impression 1"
        );
        assert_eq!(
            ConfirmedCutouts::from_choice("ab", &[0, 3], 2).unwrap_err(),
            "第 2 枚印模选择的印章不存在"
        );
        assert_eq!(
            ConfirmedCutouts::from_choice("ab", &[0, 1], 3).unwrap_err(),
            "印模采集表上有 2 枚印模，本订单有 3 枚印章，请重新上传"
        );
    }

    #[test]
    fn a_draft_may_be_incomplete_but_not_malformed() {
        let mut f = enterprise_form();
        f.holder.address.clear();
        f.seals.clear();
        assert!(f.validate(20261127, true).is_ok());
        assert!(f.validate(20261127, false).is_err());
        f.holder.mobile = "123".into();
        assert!(f.validate(20261127, true).is_err());
    }

    #[test]
    fn seal_kinds_split_by_holder_as_the_seed_lists_them() {
        let e: Vec<&str> = SealKind::for_holder(HolderKind::Enterprise)
            .map(SealKind::label)
            .collect();
        assert_eq!(e, ["企业公章", "企业资质印章", "动态输入章", "其他章"]);
        let p: Vec<&str> = SealKind::for_holder(HolderKind::Person)
            .map(SealKind::label)
            .collect();
        assert_eq!(
            p,
            [
                "法人章",
                "注册建造师",
                "注册监理师",
                "造价师",
                "造价员",
                "手写签字",
                "其他章"
            ]
        );
    }
}
