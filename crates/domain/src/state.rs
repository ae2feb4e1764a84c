//! The order state machine: 草稿 → 待审核 → (审核不通过 → 待审核)* → 待支付 → 已支付 → 已授权 → 已制章 → 已完成,
//! and 已取消 from any state before payment. An operator's 重新制章 takes a made or completed order back to 已制章
//! (the remade seals still have to be written onto the key).
//!
//! The table in [`OrderState::apply`] is the single source of truth: the application layer asks it before every
//! change and the store refuses to write a state it was not handed by it.

use serde::{Deserialize, Serialize};

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum OrderState {
    /// 草稿 — saved by the applicant (暂存待办), not yet submitted.
    Draft,
    /// 待审核 — submitted, waiting for an operator.
    PendingReview,
    /// 审核不通过 — rejected with a comment; the applicant edits and resubmits.
    Rejected,
    /// 待支付 — approved, waiting for payment.
    PendingPayment,
    /// 已支付 — paid, waiting for the applicant to bind the UKey (授权).
    Paid,
    /// 已授权 — the seal is authorised for the project and bound to the applicant's key.
    Authorized,
    /// 已制章 — the electronic seals are made and signed by the platform.
    Made,
    /// 已完成 — the seals are written onto the applicant's key.
    Completed,
    /// 已取消 — cancelled before payment.
    Cancelled,
}

/// Who asks for a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// 申请人 — the applicant who owns the order.
    Applicant,
    /// 审核员 — an operator of a group that serves the order's project.
    Operator,
    /// 支付网关 — a verified payment notification.
    PaymentGateway,
    /// 平台 — the platform itself (the seal maker).
    Platform,
}

/// What is asked of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Event {
    /// 提交 — the applicant submits the application for review.
    Submit,
    /// 审核通过.
    Approve,
    /// 审核不通过, with the reviewer's comment.
    Reject {
        /// 审核意见 shown to the applicant.
        comment: String,
    },
    /// 支付成功 — the gateway's signed notification was verified.
    PaymentConfirmed,
    /// 授权 — the applicant bound the key and confirmed the authorisation.
    Authorize,
    /// 制章 — the platform made and signed the seals.
    Make,
    /// 写入完成 — the applicant's key confirmed the seals are written.
    ConfirmWritten,
    /// 重新制章 — an operator remade seals from a new 印模采集表 (the replaced seals are revoked); the new ones are
    /// written onto the key again.
    Remake,
    /// 取消.
    Cancel,
}

/// A refused transition: the order stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("订单状态为「{}」，不能执行「{}」", .from.label(), .event)]
pub struct TransitionError {
    /// The state the order was in.
    pub from: OrderState,
    /// The refused event's label.
    pub event: &'static str,
    /// Who asked.
    pub actor: Actor,
}

impl Event {
    /// The Chinese label of the event, as the pages and the audit log show it.
    pub fn label(&self) -> &'static str {
        match self {
            Event::Submit => "提交",
            Event::Approve => "审核通过",
            Event::Reject { .. } => "审核不通过",
            Event::PaymentConfirmed => "支付成功",
            Event::Authorize => "授权",
            Event::Make => "制章",
            Event::ConfirmWritten => "写入完成",
            Event::Remake => "重新制章",
            Event::Cancel => "取消",
        }
    }

    /// A stable machine name, used in the audit log and the API.
    pub fn code(&self) -> &'static str {
        match self {
            Event::Submit => "submit",
            Event::Approve => "approve",
            Event::Reject { .. } => "reject",
            Event::PaymentConfirmed => "payment_confirmed",
            Event::Authorize => "authorize",
            Event::Make => "make",
            Event::ConfirmWritten => "confirm_written",
            Event::Remake => "remake",
            Event::Cancel => "cancel",
        }
    }
}

impl OrderState {
    /// Every state, in lifecycle order.
    pub const ALL: [OrderState; 9] = [
        OrderState::Draft,
        OrderState::PendingReview,
        OrderState::Rejected,
        OrderState::PendingPayment,
        OrderState::Paid,
        OrderState::Authorized,
        OrderState::Made,
        OrderState::Completed,
        OrderState::Cancelled,
    ];

    /// The next state if `actor` may do `event` now, or why not.
    pub fn apply(self, actor: Actor, event: &Event) -> Result<OrderState, TransitionError> {
        use Actor as A;
        use OrderState as S;
        let next = match (self, actor, event) {
            (S::Draft | S::Rejected, A::Applicant, Event::Submit) => Some(S::PendingReview),
            (S::PendingReview, A::Operator, Event::Approve) => Some(S::PendingPayment),
            (S::PendingReview, A::Operator, Event::Reject { comment })
                if !comment.trim().is_empty() =>
            {
                Some(S::Rejected)
            }
            (S::PendingPayment, A::PaymentGateway, Event::PaymentConfirmed) => Some(S::Paid),
            (S::Paid, A::Applicant, Event::Authorize) => Some(S::Authorized),
            (S::Authorized, A::Platform, Event::Make) => Some(S::Made),
            (S::Made, A::Applicant, Event::ConfirmWritten) => Some(S::Completed),
            (S::Made | S::Completed, A::Operator, Event::Remake) => Some(S::Made),
            // Money has changed hands from 已支付 on: cancelling then is a refund case for a human, not a click.
            (
                S::Draft | S::Rejected | S::PendingReview | S::PendingPayment,
                A::Applicant,
                Event::Cancel,
            ) => Some(S::Cancelled),
            (S::PendingReview | S::PendingPayment, A::Operator, Event::Cancel) => {
                Some(S::Cancelled)
            }
            _ => None,
        };
        next.ok_or(TransitionError {
            from: self,
            event: event.label(),
            actor,
        })
    }

    /// Whether the applicant may still edit the form and uploads.
    pub fn editable(self) -> bool {
        matches!(self, OrderState::Draft | OrderState::Rejected)
    }

    /// Whether nothing but an operator's 重新制章 can happen to the order any more.
    pub fn is_terminal(self) -> bool {
        matches!(self, OrderState::Completed | OrderState::Cancelled)
    }

    /// 印章办理状态 as the seed's pages label it.
    pub fn label(self) -> &'static str {
        match self {
            OrderState::Draft => "草稿",
            OrderState::PendingReview => "待审核",
            OrderState::Rejected => "审核不通过",
            OrderState::PendingPayment => "待支付",
            OrderState::Paid => "已支付",
            OrderState::Authorized => "已授权",
            OrderState::Made => "已制章",
            OrderState::Completed => "已完成",
            OrderState::Cancelled => "已取消",
        }
    }

    /// A stable machine name, stored in the database and used by the API.
    pub fn code(self) -> &'static str {
        match self {
            OrderState::Draft => "draft",
            OrderState::PendingReview => "pending_review",
            OrderState::Rejected => "rejected",
            OrderState::PendingPayment => "pending_payment",
            OrderState::Paid => "paid",
            OrderState::Authorized => "authorized",
            OrderState::Made => "made",
            OrderState::Completed => "completed",
            OrderState::Cancelled => "cancelled",
        }
    }

    /// The state named by [`OrderState::code`].
    pub fn from_code(code: &str) -> Option<OrderState> {
        OrderState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// 支付状态 as the seed's order list shows it.
    pub fn is_paid(self) -> bool {
        matches!(
            self,
            OrderState::Paid | OrderState::Authorized | OrderState::Made | OrderState::Completed
        )
    }

    /// The step of 申请 → 审核 → 支付 → 授权 → 制章 the order is at (0-based), for the progress bar.
    pub fn step(self) -> usize {
        match self {
            OrderState::Draft | OrderState::Rejected | OrderState::Cancelled => 0,
            OrderState::PendingReview => 1,
            OrderState::PendingPayment => 2,
            OrderState::Paid => 3,
            OrderState::Authorized | OrderState::Made => 4,
            OrderState::Completed => 5,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_actor() -> impl Strategy<Value = Actor> {
        prop_oneof![
            Just(Actor::Applicant),
            Just(Actor::Operator),
            Just(Actor::PaymentGateway),
            Just(Actor::Platform)
        ]
    }

    fn any_event() -> impl Strategy<Value = Event> {
        prop_oneof![
            Just(Event::Submit),
            Just(Event::Approve),
            "[ a-z审核]{0,4}".prop_map(|comment| Event::Reject { comment }),
            Just(Event::PaymentConfirmed),
            Just(Event::Authorize),
            Just(Event::Make),
            Just(Event::ConfirmWritten),
            Just(Event::Remake),
            Just(Event::Cancel),
        ]
    }

    /// The lifecycle as the issue draws it, written independently of `apply`: (from, to) pairs.
    const EDGES: &[(OrderState, OrderState)] = {
        use OrderState::*;
        &[
            (Draft, PendingReview),
            (Rejected, PendingReview),
            (PendingReview, PendingPayment),
            (PendingReview, Rejected),
            (PendingPayment, Paid),
            (Paid, Authorized),
            (Authorized, Made),
            (Made, Completed),
            (Made, Made),
            (Completed, Made),
            (Draft, Cancelled),
            (Rejected, Cancelled),
            (PendingReview, Cancelled),
            (PendingPayment, Cancelled),
        ]
    };

    proptest! {
        #[test]
        fn no_sequence_of_events_leaves_the_drawn_lifecycle(
            steps in proptest::collection::vec((any_actor(), any_event()), 0..60)
        ) {
            let mut state = OrderState::Draft;
            let mut paid = false;
            let mut made = false;
            for (actor, event) in steps {
                match state.apply(actor, &event) {
                    Ok(next) => {
                        prop_assert!(EDGES.contains(&(state, next)), "{state:?} -> {next:?} by {actor:?}");
                        // 已完成 is left only by an operator's 重新制章; 已取消 never.
                        prop_assert!(!state.is_terminal() || (state == OrderState::Completed && event == Event::Remake && actor == Actor::Operator));
                        paid |= next == OrderState::Paid;
                        made |= next == OrderState::Made;
                        if next == OrderState::Completed { prop_assert!(paid && made); }
                        if next == OrderState::Paid { prop_assert_eq!(actor, Actor::PaymentGateway); }
                        state = next;
                    }
                    Err(e) => prop_assert_eq!(e.from, state),
                }
            }
        }
    }

    #[test]
    fn the_happy_path_and_a_rejection_round() {
        let path = [
            (Actor::Applicant, Event::Submit, OrderState::PendingReview),
            (
                Actor::Operator,
                Event::Reject {
                    comment: "证件号与填写的不符".into(),
                },
                OrderState::Rejected,
            ),
            (Actor::Applicant, Event::Submit, OrderState::PendingReview),
            (Actor::Operator, Event::Approve, OrderState::PendingPayment),
            (
                Actor::PaymentGateway,
                Event::PaymentConfirmed,
                OrderState::Paid,
            ),
            (Actor::Applicant, Event::Authorize, OrderState::Authorized),
            (Actor::Platform, Event::Make, OrderState::Made),
            (
                Actor::Applicant,
                Event::ConfirmWritten,
                OrderState::Completed,
            ),
        ];
        let mut s = OrderState::Draft;
        for (actor, event, want) in path {
            s = s.apply(actor, &event).unwrap();
            assert_eq!(s, want);
        }
    }

    #[test]
    fn wrong_actor_or_empty_comment_is_refused() {
        assert!(
            OrderState::Draft
                .apply(Actor::Operator, &Event::Submit)
                .is_err()
        );
        assert!(
            OrderState::PendingReview
                .apply(Actor::Applicant, &Event::Approve)
                .is_err()
        );
        assert!(
            OrderState::PendingPayment
                .apply(Actor::Applicant, &Event::PaymentConfirmed)
                .is_err()
        );
        let empty = Event::Reject {
            comment: "  ".into(),
        };
        assert!(
            OrderState::PendingReview
                .apply(Actor::Operator, &empty)
                .is_err()
        );
        assert!(
            OrderState::Paid
                .apply(Actor::Applicant, &Event::Cancel)
                .is_err()
        );
        // 重新制章 is an operator's, and only once seals exist.
        assert!(
            OrderState::Completed
                .apply(Actor::Applicant, &Event::Remake)
                .is_err()
        );
        assert!(
            OrderState::Authorized
                .apply(Actor::Operator, &Event::Remake)
                .is_err()
        );
        assert_eq!(
            OrderState::Completed.apply(Actor::Operator, &Event::Remake),
            Ok(OrderState::Made)
        );
    }

    #[test]
    fn codes_round_trip() {
        for s in OrderState::ALL {
            assert_eq!(OrderState::from_code(s.code()), Some(s));
        }
        assert_eq!(OrderState::from_code("nope"), None);
    }
}
