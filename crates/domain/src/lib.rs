//! The SealDesk domain: what an electronic-seal order is and how it may change.
//!
//! This crate owns the vocabulary of the platform — [`Order`], [`Service`] (新办/续期/补办/变更), [`SealKind`],
//! [`OrderState`] and its transition table, [`Fen`] money and pricing, the identifier validators (unified social
//! credit code, resident ID, mobile and landline numbers, taxpayer IDs), time-ordered order numbers, and the
//! SM3 hash that chains the audit log. It does no I/O and has no async: every other crate calls into it, it calls
//! none of them.
//!
//! ```
//! use sealdesk_domain::{Actor, Event, OrderState};
//! let next = OrderState::Draft.apply(Actor::Applicant, &Event::Submit).unwrap();
//! assert_eq!(next, OrderState::PendingReview);
//! assert!(OrderState::Draft.apply(Actor::Operator, &Event::Approve).is_err());
//! ```
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod at_rest;
pub mod audit;
pub mod ids;
pub mod money;
pub mod order;
pub mod precheck;
pub mod review_stats;
pub mod role;
pub mod seal_status;
pub mod state;
pub mod time;
pub mod validate;
pub mod workdays;

pub use crate::time::{Clock, ManualClock, SystemClock, Timestamp};
pub use audit::{
    ACTIONS, AuditRecord, ChainHead, ChainPos, Checkpoint, GENESIS_HASH, action_label,
};
pub use ids::{OrderIdGen, OrderNo};
pub use money::{DEFAULT_PRICE_FEN_PER_SEAL_YEAR, Fen, price_fen};
pub use order::{
    Authorization, ChosenSeal, ConfirmedCutouts, Holder, HolderKind, InvoiceForm, InvoiceInfo,
    InvoiceKind, KeyBinding, Order, OrderForm, PadSignature, ReviewReason, SealKind, SealLine,
    SealSize, Service, UploadKind,
};
pub use precheck::{Outcome, Precheck};
pub use review_stats::{ReviewEvent, ReviewStats, review_stats};
pub use role::{Role, Roles};
pub use seal_status::SealStatus;
pub use state::{Actor, Event, OrderState, TransitionError};
pub use validate::{FieldError, Validation};
pub use workdays::{
    CalendarError, REVIEW_WORKING_DAYS, ReviewDue, URGENT_BID_OPENING_WORKING_DAYS, WorkCalendar,
    bid_opening_urgent,
};
