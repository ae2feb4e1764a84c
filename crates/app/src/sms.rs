//! The SMS texts of the seed, word for word where the seed gives them.

use sealdesk_domain::OrderState;

/// The template name and text for an order that just entered `state`, if that state sends one.
pub(crate) fn for_state(
    sig: &str,
    platform: &str,
    url: &str,
    order_no: &str,
    state: OrderState,
) -> Option<(&'static str, String)> {
    let head = format!("[{sig}] 尊敬的客户，您好！您订单号为【{order_no}】的订单，");
    let tail = "本条短信无需回复，感谢您的合作，谢谢！";
    Some(match state {
        OrderState::PendingReview => (
            "submitted",
            format!(
                "{head}申请资料已提交，我们会在 1-2 个工作日内完成审核，审核结果将短信通知您，{tail}"
            ),
        ),
        OrderState::PendingPayment => (
            "review_approved",
            format!(
                "{head}申请资料已审核通过，请登录 {platform}（{url}），对该订单完成支付，{tail}"
            ),
        ),
        OrderState::Rejected => (
            "review_rejected",
            format!(
                "{head}申请资料未通过审核，请登录 {platform}（{url}），对资料进行修改后重新提交，{tail}"
            ),
        ),
        OrderState::Paid => (
            "paid",
            format!(
                "{head}已支付成功，请登录 {platform}（{url}），插入证书锁完成授权和制章，{tail}"
            ),
        ),
        OrderState::Completed => (
            "completed",
            format!(
                "{head}电子印章已写入您的证书锁，电子发票已开具，可登录 {platform}（{url}）查看和下载，{tail}"
            ),
        ),
        _ => return None,
    })
}

/// The message telling the applicant that a 制章员 remade seals of the order, to be written onto the key again.
pub(crate) fn remade(sig: &str, platform: &str, url: &str, order_no: &str) -> String {
    format!(
        "[{sig}] 尊敬的客户，您好！您订单号为【{order_no}】的订单，电子印章已按新的印模重新制作，请登录 {platform}（{url}），插入证书锁写入新印章，本条短信无需回复，感谢您的合作，谢谢！"
    )
}

/// The message telling the applicant that 客服 answered in the order's thread.
pub(crate) fn message_answered(sig: &str, platform: &str, url: &str, order_no: &str) -> String {
    format!(
        "[{sig}] 尊敬的客户，您好！您订单号为【{order_no}】的订单，客服已回复您的留言，请登录 {platform}（{url}）查看，本条短信无需回复，感谢您的合作，谢谢！"
    )
}

/// The sign-in code message.
pub(crate) fn login_code(sig: &str, code: &str) -> String {
    format!("[{sig}] 您的登录验证码为 {code}，5 分钟内有效。如非本人操作，请忽略本短信。")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_texts_are_kept() {
        let (_, t) = for_state(
            "金格科技",
            "CA 电子印章自助办理平台",
            "平台地址",
            "KG-x-1",
            OrderState::PendingPayment,
        )
        .unwrap();
        assert_eq!(
            t,
            "[金格科技] 尊敬的客户，您好！您订单号为【KG-x-1】的订单，申请资料已审核通过，请登录 CA 电子印章自助办理平台（平台地址），对该订单完成支付，本条短信无需回复，感谢您的合作，谢谢！"
        );
        let (_, t) = for_state(
            "金格科技",
            "CA 电子印章自助办理平台",
            "平台地址",
            "KG-x-1",
            OrderState::Rejected,
        )
        .unwrap();
        assert_eq!(
            t,
            "[金格科技] 尊敬的客户，您好！您订单号为【KG-x-1】的订单，申请资料未通过审核，请登录 CA 电子印章自助办理平台（平台地址），对资料进行修改后重新提交，本条短信无需回复，感谢您的合作，谢谢！"
        );
        assert!(for_state("a", "b", "c", "d", OrderState::Draft).is_none());
    }
}
