//! The text an operator's search looks in (订单编号, 申办人, 企业, 统一社会信用代码, 手机号), kept in the
//! `search_text` column beside the order so that "any part of it" is one `LIKE` that an index can serve
//! (PostgreSQL: a trigram index; SQLite: a scan of one narrow column).

use sealdesk_domain::Order;

/// Between fields, so that a search never matches across two of them; a query cannot hold it.
const SEPARATOR: char = '\n';

/// The search text of `o`: its searchable fields, ASCII letters in lower case (credit codes and order numbers
/// are found whatever case is typed; Chinese has none).
pub(crate) fn text(o: &Order) -> String {
    let h = &o.holder;
    let fields = [
        o.order_no.as_str(),
        h.applicant_name.as_str(),
        h.enterprise_name.as_str(),
        h.credit_code.as_str(),
        h.mobile.as_str(),
    ];
    fields.join(&SEPARATOR.to_string()).to_ascii_lowercase()
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
}
