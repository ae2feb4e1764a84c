//! Where 续期, 变更 and 补办 begin (the seed: 插入需要续期的证书锁，点击获取读取相关信息): the UKey panel reads
//! the key and the platform names the completed orders whose seals are on it (with the seed's UKEY信息), or the
//! applicant picks one of their completed orders; either way the form then opens filled from that order. A 补办
//! has no key to read (it was lost): it starts from the orders only.

use askama::Template;
use sealdesk_domain::{OrderState, Service};
use sealdesk_store::OrderFilter;

use crate::AppState;
use crate::session::PageCaller;
use crate::view::{Layout, Nav, PageResult, beijing, date_part, render};

/// One completed order to start from.
struct StartRow {
    id: i64,
    order_no: String,
    holder: String,
    unit: String,
    window: String,
}

#[derive(Template)]
#[template(path = "portal/start.html")]
struct StartPage<'a> {
    l: Layout,
    csrf: &'a str,
    agent_url: &'a str,
    service: Service,
    /// The key can be read (续期, 变更); a 补办's key is lost.
    from_key: bool,
    rows: Vec<StartRow>,
}

/// The completed orders a 续期 / 变更 / 补办 may continue (newest 50).
const LISTED: i64 = 50;

pub(super) async fn page(s: &AppState, c: &PageCaller, service: Service) -> PageResult {
    let (orders, _) = s
        .app
        .list_orders(
            &c.who,
            OrderFilter {
                states: vec![OrderState::Completed],
                limit: LISTED,
                ..Default::default()
            },
        )
        .await?;
    let mut rows = Vec::with_capacity(orders.len());
    for o in orders {
        let window = match s.app.seal_window(&c.who, o.id).await? {
            Some((from, to)) => format!(
                "{} 至 {}",
                date_part(&beijing(&from)),
                date_part(&beijing(&to))
            ),
            None => String::new(),
        };
        rows.push(StartRow {
            id: o.id,
            order_no: o.order_no.clone(),
            holder: o.holder.display_name().to_owned(),
            unit: o.authorization.unit.clone(),
            window,
        });
    }
    Ok(render(&StartPage {
        l: Layout::new(format!("电子印章{}", service.label()), Nav::of(c)),
        csrf: &c.csrf,
        agent_url: &s.agent_url,
        service,
        from_key: service != Service::Reissue,
        rows,
    }))
}
