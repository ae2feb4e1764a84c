//! A minimal canonical DER writer for the structures this crate makes.

/// Appends the DER length of `len` to `out`.
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// Just the tag and length of an element, for contents that are appended separately (saves copying them).
pub(crate) fn header(tag: u8, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(6);
    out.push(tag);
    push_len(&mut out, len);
    out
}

/// One element from a tag and its contents.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    push_len(&mut out, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed element from already-encoded children.
pub(crate) fn cons(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    push_len(&mut out, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

pub(crate) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    cons(0x30, parts)
}

/// Minimal two's-complement INTEGER.
pub(crate) fn int(v: i64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let mut start = 0;
    while start < 7 {
        let (Some(&b), Some(&next)) = (bytes.get(start), bytes.get(start + 1)) else {
            break;
        };
        let redundant = (b == 0x00 && next & 0x80 == 0) || (b == 0xFF && next & 0x80 != 0);
        if !redundant {
            break;
        }
        start += 1;
    }
    tlv(0x02, bytes.get(start..).unwrap_or_default())
}

pub(crate) fn octets(v: &[u8]) -> Vec<u8> {
    tlv(0x04, v)
}

pub(crate) fn bit_string(v: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(v.len() + 1);
    content.push(0);
    content.extend_from_slice(v);
    tlv(0x03, &content)
}

/// OBJECT IDENTIFIER from dotted text; `None` if the text is not an OID.
pub(crate) fn oid(dotted: &str) -> Option<Vec<u8>> {
    let arcs: Vec<u64> = dotted
        .split('.')
        .map(|a| a.parse().ok())
        .collect::<Option<_>>()?;
    let (&a, &b) = (arcs.first()?, arcs.get(1)?);
    if a > 2 || (a < 2 && b >= 40) {
        return None;
    }
    let mut content = Vec::new();
    let first = a.checked_mul(40)?.checked_add(b)?;
    for arc in std::iter::once(first).chain(arcs.iter().skip(2).copied()) {
        let mut chunk = vec![(arc & 0x7F) as u8];
        let mut rest = arc >> 7;
        while rest > 0 {
            chunk.push(0x80 | (rest & 0x7F) as u8);
            rest >>= 7;
        }
        content.extend(chunk.iter().rev());
    }
    Some(tlv(0x06, &content))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_canonically() {
        assert_eq!(int(0), [2, 1, 0]);
        assert_eq!(int(127), [2, 1, 0x7F]);
        assert_eq!(int(128), [2, 2, 0, 0x80]);
        assert_eq!(int(-1), [2, 1, 0xFF]);
        assert_eq!(int(-129), [2, 2, 0xFF, 0x7F]);
        assert_eq!(
            oid("1.2.156.10197.1.501"),
            Some(vec![6, 8, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x83, 0x75])
        );
        assert_eq!(tlv(4, &[0; 200]).get(..3), Some(&[4u8, 0x81, 200][..]));
        assert_eq!(tlv(4, &[0; 300]).get(..4), Some(&[4u8, 0x82, 1, 44][..]));
    }
}
