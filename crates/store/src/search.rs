//! The text an operator's search looks in (订单编号, 申办人, 企业, 统一社会信用代码, 手机号), kept in the
//! `search_text` column beside the order so that "any part of it" is one `LIKE` that an index can serve
//! (PostgreSQL: a trigram index; SQLite: a scan of one narrow column).
//!
//! With personal data sealed (`pii`), the mobile number is not in the search text: the order's
//! `mobile_index` column holds its blind index instead, and a query that is a whole mobile number
//! ([`mobile_query`]) is also looked up there. Part of a mobile number then finds nothing.

use sealdesk_domain::Order;

use crate::pii::PiiKeys;

/// Between fields, so that a search never matches across two of them; a query cannot hold it.
const SEPARATOR: char = '\n';

/// The search text of `o`: its searchable fields, ASCII letters in lower case (credit codes and order numbers
/// are found whatever case is typed; Chinese has none). The mobile number only when personal data is not sealed.
pub(crate) fn text(o: &Order, pii: Option<&PiiKeys>) -> String {
    let h = &o.holder;
    let mut fields = vec![
        o.order_no.as_str(),
        h.applicant_name.as_str(),
        h.enterprise_name.as_str(),
        h.credit_code.as_str(),
    ];
    if pii.is_none() {
        fields.push(h.mobile.as_str());
    }
    fields.join(&SEPARATOR.to_string()).to_ascii_lowercase()
}

/// The mobile number a query is, when it is a whole one (11 digits starting with 1, spaces, `-` and a leading
/// `+86` allowed), normalised as the blind index takes it.
pub(crate) fn mobile_query(query: Option<&str>) -> Option<String> {
    let q = query?.trim();
    if !q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '+'))
    {
        return None;
    }
    let m = sealdesk_domain::at_rest::normalise_mobile(q);
    (m.len() == 11 && m.starts_with('1')).then_some(m)
}

/// The `LIKE` pattern (escape character `\`) that finds `query` anywhere in a search text; `None` for a blank
/// query, which filters nothing.
pub(crate) fn like_pattern(query: Option<&str>) -> Option<String> {
    let q = query?.trim();
    if q.is_empty() {
        return None;
    }
    let mut p = String::with_capacity(q.len() + 2);
    p.push('%');
    for c in q.chars() {
        match c {
            '%' | '_' | '\\' => {
                p.push('\\');
                p.push(c);
            }
            // A control character (the separator among them) is in no field: it can match nothing, and a
            // space stands for it, which no field holds at its place either.
            c if c.is_control() => p.push(' '),
            c => p.push(c.to_ascii_lowercase()),
        }
    }
    p.push('%');
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_in_a_query_are_taken_literally() {
        assert_eq!(like_pattern(Some(" 50%_\\x ")).unwrap(), "%50\\%\\_\\\\x%");
        assert_eq!(like_pattern(Some("KG-Ab")).unwrap(), "%kg-ab%");
        assert_eq!(like_pattern(Some("  ")), None);
        assert_eq!(like_pattern(None), None);
        assert_eq!(like_pattern(Some("a\nb")).unwrap(), "%a b%");
    }

    #[test]
    fn only_a_whole_mobile_number_is_a_mobile_query() {
        assert_eq!(
            mobile_query(Some(" 158 0000 1123 ")).unwrap(),
            "15800001123"
        );
        assert_eq!(
            mobile_query(Some("+86 158-0000-1123")).unwrap(),
            "15800001123"
        );
        assert_eq!(mobile_query(Some("1123")), None);
        assert_eq!(mobile_query(Some("25800001123")), None);
        assert_eq!(mobile_query(Some("KG-15800001123")), None);
        assert_eq!(mobile_query(None), None);
    }
}
