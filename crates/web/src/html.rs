//! A few helpers for hand-written HTML: escaping and the page frame. Every value put into a page goes through
//! [`esc`].

use axum::response::Html;

/// HTML-escapes text for element content and quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Who the page is for, for the header's links.
pub enum Nav<'a> {
    /// A signed-in applicant, with the session's CSRF token (for the logout form).
    Applicant(&'a str),
    /// A signed-in operator: name and CSRF token.
    Operator(&'a str, &'a str),
}

/// The logout form: a POST carrying the session's CSRF token, so that no other site can sign anyone out.
fn logout_form(csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/logout\"><input type=\"hidden\" name=\"_csrf\" value=\"{}\"><button class=\"secondary\" id=\"logout\">退出</button></form>",
        esc(csrf)
    )
}

/// The page frame.
pub fn page(title: &str, nav: Option<Nav<'_>>, body: &str) -> Html<String> {
    let links = match nav {
        Some(Nav::Applicant(csrf)) => format!(
            "<a href=\"/orders\">我的订单</a><a href=\"/orders/new?service=new\">新办</a>{}",
            logout_form(csrf)
        ),
        Some(Nav::Operator(name, csrf)) => format!(
            "<a href=\"/admin/orders\">订单管理</a><a href=\"/admin/projects\">项目与操作员组</a><span>{}</span>{}",
            esc(name),
            logout_form(csrf)
        ),
        None => {
            "<a href=\"/login\">申请人登录</a><a href=\"/admin/login\">管理员登录</a>".to_owned()
        }
    };
    Html(format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{t} - 电子印章在线办理</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head><body><header><a class=\"brand\" href=\"/\">电子印章在线办理</a><nav>{links}</nav></header><main><h1>{t}</h1>{body}</main><footer>客服咨询电话：400-6776-800　服务时间：周一至周五 (8:00—20:00)</footer></body></html>",
        t = esc(title)
    ))
}

/// The 申请 → 审核 → 支付 → 授权 → 制章 progress bar, `step` being the current one (0-based; 5 = all done).
pub fn steps(step: usize) -> String {
    let names = ["申请", "审核", "支付", "授权", "制章"];
    let mut s = String::from("<ol class=\"steps\">");
    for (i, n) in names.iter().enumerate() {
        let class = if i < step {
            "done"
        } else if i == step {
            "now"
        } else {
            ""
        };
        s.push_str(&format!("<li class=\"{class}\">{n}</li>"));
    }
    s.push_str("</ol>");
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::esc("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}
