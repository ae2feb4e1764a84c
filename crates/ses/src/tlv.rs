//! A lenient BER/DER TLV reader that keeps the raw bytes of every element.
//!
//! Seals are verified over the bytes exactly as they sit in the file, so the reader never decodes and re-encodes:
//! each [`Tlv`] borrows its full encoding (`raw`) and its contents (`value`). It is strict where safety needs it
//! (definite lengths only, lengths bounded by the input, single-byte tags) and lenient where real files are
//! (non-minimal lengths and integers, any string type for text fields, OCTET vs BIT STRING).

use crate::error::{Error, malformed};

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const OID: u8 = 0x06;
pub(crate) const BOOLEAN: u8 = 0x01;
pub(crate) const UTC_TIME: u8 = 0x17;
pub(crate) const GENERALIZED_TIME: u8 = 0x18;
pub(crate) const CONTEXT_0: u8 = 0xA0;

/// One element: its tag byte, its whole encoding and its contents.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub raw: &'a [u8],
    pub value: &'a [u8],
}

/// Reads one element from the front of `input`; returns it and the rest.
pub(crate) fn read<'a>(input: &'a [u8], field: &'static str) -> Result<(Tlv<'a>, &'a [u8]), Error> {
    let (&tag, after_tag) = input
        .split_first()
        .ok_or_else(|| malformed(field, "missing (data ends early)"))?;
    if tag & 0x1F == 0x1F {
        // No SES or X.509 field uses high tag numbers; refusing them keeps the reader simple.
        return Err(malformed(
            field,
            "uses a multi-byte tag, which no seal format uses",
        ));
    }
    let (&first, after_len0) = after_tag
        .split_first()
        .ok_or_else(|| malformed(field, "truncated length"))?;
    let (len, after_len) = if first < 0x80 {
        (usize::from(first), after_len0)
    } else if first == 0x80 {
        return Err(malformed(
            field,
            "uses an indefinite length, which DER forbids",
        ));
    } else {
        let n = usize::from(first & 0x7F);
        if n > 4 {
            return Err(malformed(field, "length field longer than 4 bytes"));
        }
        let bytes = after_len0
            .get(..n)
            .ok_or_else(|| malformed(field, "truncated length"))?;
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, after_len0.get(n..).unwrap_or_default())
    };
    let value = after_len
        .get(..len)
        .ok_or_else(|| malformed(field, "truncated: its length runs past the end of the data"))?;
    let header = input.len() - after_len.len();
    let raw = input
        .get(..header + len)
        .ok_or_else(|| malformed(field, "truncated"))?;
    let rest = after_len.get(len..).unwrap_or_default();
    Ok((Tlv { tag, raw, value }, rest))
}

/// A cursor over the children of a constructed element.
pub(crate) struct Seq<'a> {
    rest: &'a [u8],
}

impl<'a> Seq<'a> {
    pub(crate) fn new(value: &'a [u8]) -> Self {
        Seq { rest: value }
    }

    /// Opens `tlv` as a SEQUENCE.
    pub(crate) fn of(tlv: &Tlv<'a>, field: &'static str) -> Result<Self, Error> {
        if tlv.tag != SEQUENCE {
            return Err(malformed(field, "is not a SEQUENCE"));
        }
        Ok(Seq::new(tlv.value))
    }

    pub(crate) fn next(&mut self, field: &'static str) -> Result<Tlv<'a>, Error> {
        let (tlv, rest) = read(self.rest, field)?;
        self.rest = rest;
        Ok(tlv)
    }

    pub(crate) fn peek_tag(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Counts the remaining children without consuming them.
    pub(crate) fn count(&self, field: &'static str) -> Result<usize, Error> {
        let mut n = 0;
        let mut rest = self.rest;
        while !rest.is_empty() {
            rest = read(rest, field)?.1;
            n += 1;
        }
        Ok(n)
    }
}

/// INTEGER as i64; non-minimal encodings are accepted, values wider than 64 bits are not.
pub(crate) fn int(tlv: &Tlv<'_>, field: &'static str) -> Result<i64, Error> {
    if tlv.tag != INTEGER {
        return Err(malformed(field, "is not an INTEGER"));
    }
    let v = tlv.value;
    if v.is_empty() {
        return Err(malformed(field, "is an empty INTEGER"));
    }
    let negative = v.first().is_some_and(|b| b & 0x80 != 0);
    // Strip redundant sign bytes so that lenient encodings such as 00 00 04 still fit.
    let mut digits = v;
    while digits.len() > 8 {
        match digits.split_first() {
            Some((&0x00, r)) if !negative => digits = r,
            Some((&0xFF, r)) if negative => digits = r,
            _ => return Err(malformed(field, "is an INTEGER too large for this field")),
        }
    }
    let init: i64 = if negative { -1 } else { 0 };
    Ok(digits
        .iter()
        .fold(init, |acc, &b| (acc << 8) | i64::from(b)))
}

/// Any ASN.1 character string type as Rust text (invalid UTF-8 is replaced, never rejected).
pub(crate) fn text(tlv: &Tlv<'_>, field: &'static str) -> Result<String, Error> {
    match tlv.tag {
        // UTF8String, NumericString, PrintableString, T61String, IA5String, VisibleString, GeneralString
        0x0C | 0x12 | 0x13 | 0x14 | 0x16 | 0x1A | 0x1B => {
            Ok(String::from_utf8_lossy(tlv.value).into_owned())
        }
        // BMPString: UTF-16BE
        0x1E => {
            let units: Vec<u16> = tlv
                .value
                .chunks(2)
                .map(|c| c.iter().fold(0u16, |a, &b| (a << 8) | u16::from(b)))
                .collect();
            Ok(String::from_utf16_lossy(&units))
        }
        _ => Err(malformed(field, "is not a text string")),
    }
}

/// The contents of a BIT STRING without its unused-bits byte.
pub(crate) fn bits<'a>(tlv: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], Error> {
    if tlv.tag != BIT_STRING {
        return Err(malformed(field, "is not a BIT STRING"));
    }
    match tlv.value.split_first() {
        Some((0, rest)) => Ok(rest),
        Some(_) => Err(malformed(
            field,
            "is a BIT STRING with unused bits, which a byte string cannot have",
        )),
        None => Err(malformed(field, "is an empty BIT STRING")),
    }
}

/// The bytes of an OCTET STRING or a BIT STRING: V1 producers use either where the standard names one.
pub(crate) fn bytes<'a>(tlv: &Tlv<'a>, field: &'static str) -> Result<&'a [u8], Error> {
    match tlv.tag {
        OCTET_STRING => Ok(tlv.value),
        BIT_STRING => bits(tlv, field),
        _ => Err(malformed(
            field,
            "is neither an OCTET STRING nor a BIT STRING",
        )),
    }
}

/// OBJECT IDENTIFIER in dotted form.
pub(crate) fn oid(tlv: &Tlv<'_>, field: &'static str) -> Result<String, Error> {
    if tlv.tag != OID {
        return Err(malformed(field, "is not an OBJECT IDENTIFIER"));
    }
    oid_from_value(tlv.value).ok_or_else(|| malformed(field, "is a broken OBJECT IDENTIFIER"))
}

pub(crate) fn oid_from_value(v: &[u8]) -> Option<String> {
    if v.is_empty() || v.len() > 64 {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, &b) in v.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return None;
        }
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            arcs.push(acc);
            acc = 0;
        } else if i + 1 == v.len() {
            return None;
        }
    }
    let first = *arcs.first()?;
    let (a, b) = if first < 40 {
        (0, first)
    } else if first < 80 {
        (1, first - 40)
    } else {
        (2, first - 80)
    };
    let mut s = format!("{a}.{b}");
    for arc in arcs.iter().skip(1) {
        s.push('.');
        s.push_str(&arc.to_string());
    }
    Some(s)
}
