//! 个人信息加密存储 in the database: which values are sealed with SM4-GCM, under which place, and the blind index
//! that replaces the mobile number wherever the platform looks a row up by it.
//!
//! Sealed: an order's `holder.id_number`, `holder.mobile` and `invoice.mobile` inside `orders.body` (place
//! `orders.<id>.<object>.<field>`), `applicants.mobile` (place `applicants.<id>.mobile`), and an SMS outbox
//! message's `mobile`, `text` and `params` (place `sms_outbox.<id>.<column>`), an invoice's `buyer.mobile` and
//! `buyer.email` inside `invoices.body` (place `invoices.<id>.buyer.<field>`), and the address an invoice is
//! mailed to (`mail_outbox.<id>.to_addr`). Indexed (HMAC-SM3 under the
//! separate index key): `applicants.mobile_index` (sign-in finds the account by it), `orders.mobile_index` (the
//! console's search by a whole mobile number), `sms_outbox.mobile_index` (a number's messages), and the key of
//! `sms_codes` (the pending sign-in code of a number: its index, never the number); `search_text` no longer holds the
//! mobile at all when the store is keyed. The cipher itself is `sealdesk_domain::at_rest`, shared with the
//! blob layer; this module draws the nonces and knows the columns.
//!
//! A store without keys ([`crate::Store::with_data_keys`] not called: tests of other crates, tools) writes in
//! clear as before; `sealdesk serve` always has keys. Rows written in clear read everywhere, and
//! [`crate::Store::reencrypt_personal_data`] (`sealdesk keys reencrypt`) seals them.

use std::sync::Arc;

use sealdesk_domain::Order;
use sealdesk_domain::at_rest;
pub use sealdesk_domain::at_rest::{DataKey, DataKeys, IndexKey, KeyError, OpenError};
use serde_json::Value;
use sqlx::Row;

use crate::{Result, Store, StoreError};

/// The keys a store seals personal data with: the data-key ring and the blind-index key.
#[derive(Debug)]
pub struct PiiKeys {
    data: DataKeys,
    index: IndexKey,
}

impl PiiKeys {
    /// The ring (current key first) and the index key.
    pub fn new(data: DataKeys, index: IndexKey) -> PiiKeys {
        PiiKeys { data, index }
    }

    /// The data-key ring.
    pub fn data(&self) -> &DataKeys {
        &self.data
    }

    /// The blind-index key.
    pub fn index(&self) -> &IndexKey {
        &self.index
    }
}

/// The keys as a store and its transactions share them.
pub(crate) type SharedPii = Option<Arc<PiiKeys>>;

/// A fresh random 96-bit nonce for one sealed value. With random nonces one key may seal about 2^32 values
/// before a repeat becomes a concern (NIST SP 800-38D §8.3); a platform's orders stay far below, and rotation
/// resets the count.
pub(crate) fn nonce() -> [u8; at_rest::NONCE_LEN] {
    let mut n = [0u8; at_rest::NONCE_LEN];
    // getrandom fails only where the OS has no random source at all; sealing under a fixed nonce would be worse.
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut n).expect("operating system random source");
    n
}

/// The fields of an order that are sealed in its stored body, each with the name its place is made of.
fn personal_fields(o: &mut Order) -> [(&'static str, Option<&mut String>); 3] {
    [
        ("holder.id_number", Some(&mut o.holder.id_number)),
        ("holder.mobile", Some(&mut o.holder.mobile)),
        ("invoice.mobile", o.invoice.as_mut().map(|i| &mut i.mobile)),
    ]
}

fn order_place(id: i64, field: &str) -> String {
    format!("orders.{id}.{field}")
}

/// The place of an applicant's mobile number.
pub(crate) fn applicant_place(id: i64) -> String {
    format!("applicants.{id}.mobile")
}

/// The sealed columns of an SMS outbox row: its number, text and template variables (a sign-in code is in the
/// last two).
pub(crate) const SMS_FIELDS: [&str; 3] = ["mobile", "text", "params"];

/// The place of field `field` of outbox message `id`.
pub(crate) fn sms_place(id: i64, field: &str) -> String {
    format!("sms_outbox.{id}.{field}")
}

/// An outbox message's `field` as stored: sealed under its place with keys, as it is without.
pub(crate) fn seal_sms_field(pii: Option<&PiiKeys>, id: i64, field: &str, value: &str) -> String {
    match pii {
        Some(p) => p.data.seal_text(&sms_place(id, field), value, nonce()),
        None => value.to_owned(),
    }
}

/// The buyer fields of an invoice's body that are sealed: the contact a person gave for it.
const INVOICE_FIELDS: [(&str, &str); 2] = [("buyer", "mobile"), ("buyer", "email")];

fn invoice_place(id: i64, object: &str, field: &str) -> String {
    format!("invoices.{id}.{object}.{field}")
}

/// An invoice's body as stored: the buyer's mobile and e-mail sealed (in clear without keys; empty ones stay
/// empty).
pub(crate) fn seal_invoice_body(id: i64, body: &str, pii: Option<&PiiKeys>) -> Result<String> {
    let Some(p) = pii else {
        return Ok(body.to_owned());
    };
    let mut v: Value = serde_json::from_str(body).map_err(json_err)?;
    for (object, field) in INVOICE_FIELDS {
        if let Some(s) = field_mut(&mut v, object, field).filter(|s| !s.is_empty()) {
            *s = p
                .data
                .seal_text(&invoice_place(id, object, field), s, nonce());
        }
    }
    serde_json::to_string(&v).map_err(json_err)
}

/// A stored invoice body with its sealed fields opened.
pub(crate) fn open_invoice_body(id: i64, body: &str, pii: Option<&PiiKeys>) -> Result<String> {
    if !body.contains(at_rest::TEXT_PREFIX) {
        return Ok(body.to_owned());
    }
    let mut v: Value = serde_json::from_str(body).map_err(json_err)?;
    for (object, field) in INVOICE_FIELDS {
        if let Some(s) = field_mut(&mut v, object, field) {
            *s = open_text(pii, &invoice_place(id, object, field), s)?;
        }
    }
    serde_json::to_string(&v).map_err(json_err)
}

/// Whether a stored invoice body has a buyer field in clear or under an older key.
fn invoice_body_is_stale(body: &str, pii: &PiiKeys) -> Result<bool> {
    let v: Value = serde_json::from_str(body).map_err(json_err)?;
    Ok(INVOICE_FIELDS.iter().any(|(object, field)| {
        v.get(object)
            .and_then(|o| o.get(field))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty() && pii.data.text_is_stale(s))
    }))
}

/// The place of an invoice e-mail's recipient address (`mail_outbox.to_addr`).
pub(crate) fn mail_place(id: i64) -> String {
    format!("mail_outbox.{id}.to_addr")
}

/// The blind index of a mobile number (`sms_outbox.mobile_index`), `None` without keys.
pub(crate) fn mobile_index(pii: Option<&PiiKeys>, mobile: &str) -> Option<String> {
    pii.map(|p| p.index.mobile(mobile))
}

/// The key of a number's row in `sms_codes`: its blind index with keys (the table then holds no number), the
/// number itself without.
pub(crate) fn sms_code_key(pii: Option<&PiiKeys>, mobile: &str) -> String {
    match pii {
        Some(p) => p.index.mobile(mobile),
        None => mobile.to_owned(),
    }
}

fn json_err(e: serde_json::Error) -> StoreError {
    StoreError::Other(format!("order body: {e}"))
}

/// A string field of the body, mutable.
fn field_mut<'a>(v: &'a mut Value, object: &str, field: &str) -> Option<&'a mut String> {
    match v.get_mut(object)?.get_mut(field)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

/// The body stored for `o`: its JSON with the personal fields sealed (in clear without keys). Empty fields stay
/// empty: there is nothing to hide, and `keys reencrypt` then has nothing to redo.
pub(crate) fn seal_order_body(o: &Order, pii: Option<&PiiKeys>) -> Result<String> {
    let Some(p) = pii else {
        return serde_json::to_string(o).map_err(json_err);
    };
    let mut sealed = o.clone();
    for (field, slot) in personal_fields(&mut sealed) {
        if let Some(s) = slot.filter(|s| !s.is_empty()) {
            *s = p.data.seal_text(&order_place(o.id, field), s, nonce());
        }
    }
    serde_json::to_string(&sealed).map_err(json_err)
}

/// Opens a stored value of `place`: sealed ones with the ring, plain ones as they are. Without keys a sealed
/// value is [`OpenError::UnknownKey`] of its key id.
pub(crate) fn open_text(pii: Option<&PiiKeys>, place: &str, stored: &str) -> Result<String> {
    match pii {
        Some(p) => p.data.open_text(place, stored).map_err(StoreError::from),
        None if at_rest::is_sealed_text(stored) => {
            let kid = stored
                .strip_prefix(at_rest::TEXT_PREFIX)
                .and_then(|r| r.split_once(':'))
                .map(|(k, _)| k.to_owned())
                .unwrap_or_default();
            Err(StoreError::Pii(OpenError::UnknownKey(kid)))
        }
        None => Ok(stored.to_owned()),
    }
}

/// The order in a stored body, its personal fields opened.
pub(crate) fn open_order_body(body: &str, pii: Option<&PiiKeys>) -> Result<Order> {
    // Straight into the struct, then the sealed fields opened in place: every list row comes through here, and a
    // `Value` tree in between cost as much as the rest of the row.
    let mut o: Order = serde_json::from_str(body).map_err(json_err)?;
    let id = o.id;
    for (field, slot) in personal_fields(&mut o) {
        if let Some(s) = slot.filter(|s| !s.is_empty()) {
            *s = open_text(pii, &order_place(id, field), s)?;
        }
    }
    Ok(o)
}

/// Whether a stored body has a personal field that is plain or sealed under an older key.
fn order_body_is_stale(body: &str, pii: &PiiKeys) -> Result<bool> {
    let mut o: Order = serde_json::from_str(body).map_err(json_err)?;
    Ok(personal_fields(&mut o)
        .into_iter()
        .any(|(_, s)| s.is_some_and(|s| !s.is_empty() && pii.data.text_is_stale(s))))
}

/// The blind index of an order's holder mobile (`orders.mobile_index`); `None` without keys or without a mobile.
pub(crate) fn order_mobile_index(o: &Order, pii: Option<&PiiKeys>) -> Option<String> {
    let p = pii?;
    (!o.holder.mobile.is_empty()).then(|| p.index.mobile(&o.holder.mobile))
}

/// The lookup value of an order's holder (`orders.holder_index`): the blind index of
/// [`sealdesk_domain::precheck::holder_key`] under the index key, or its plain SM3 (`sm3:…`) in a store without
/// keys, whose bodies hold the ID number in clear anyway; `None` for an order without a holder to compare.
pub(crate) fn order_holder_index(o: &Order, pii: Option<&PiiKeys>) -> Option<String> {
    let key = sealdesk_domain::precheck::holder_key(&o.holder)?;
    Some(match pii {
        Some(p) => p.index.holder(&key),
        None => at_rest::unkeyed_holder_index(&key),
    })
}

/// Most orders [`Store::holder_orders`] returns.
pub const HOLDER_ORDERS_MAX: i64 = 200;

/// The holder lookup: equality on the index, newest first, bounded; no count.
const HOLDER_ORDERS_SQL: &str = "SELECT body, state, version, total_fen FROM orders WHERE holder_index = $1 AND id <> $2 ORDER BY id DESC LIMIT $3";

/// What [`Store::reencrypt_personal_data`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reencrypted {
    /// Orders whose personal fields were sealed anew under the current key (plain or older-key ones), or whose
    /// blind indexes were filled in or replaced.
    pub orders: u64,
    /// Applicants whose mobile was sealed anew, or given its blind index.
    pub applicants: u64,
    /// SMS outbox messages whose number, text and variables were sealed anew, or given the number's index.
    pub sms: u64,
    /// Invoices whose buyer mobile and e-mail were sealed anew.
    pub invoices: u64,
    /// Rows changed by a server between the read and the rewrite: left as that write made them (the server
    /// seals under the current key too); a second run looks at them again.
    pub raced: u64,
}

/// Rows read per batch by [`Store::reencrypt_personal_data`].
const BATCH: i64 = 500;

/// The name and value of the check row of the index key in `pii_key_checks`.
fn index_check(p: &PiiKeys) -> (String, String) {
    let full = p.index.index("key-check", "sealdesk");
    ("index".into(), full.chars().take(32).collect())
}

impl Store {
    /// The store whose personal data is sealed with `keys` (see the module `pii`): new and changed orders and
    /// applicants are written sealed, and sealed or plain rows read.
    #[must_use]
    pub fn with_data_keys(mut self, keys: PiiKeys) -> Store {
        self.pii = Some(Arc::new(keys));
        self
    }

    /// Whether personal data is sealed.
    pub fn data_keyed(&self) -> bool {
        self.pii.is_some()
    }

    /// Checks that this store's index key is the one the database's rows were indexed with, and that no
    /// configured data key id names another key than the one first used under that id. Each instance's keys are
    /// configuration; an instance started with another index key would not find any applicant by mobile and
    /// would make duplicate accounts, so `serve` refuses to start instead. The first store to run records the
    /// check values (HMAC-SM3 under the key, which tell nothing about it).
    pub async fn confirm_data_keys(&self) -> Result<()> {
        let Some(p) = self.pii.as_deref() else {
            return Ok(());
        };
        let mut checks = vec![index_check(p)];
        for kid in p.data.kids() {
            if let Some(check) = p.data.key_check(kid) {
                checks.push((format!("data:{kid}"), check));
            }
        }
        for (name, value) in &checks {
            sqlx::query(
                "INSERT INTO pii_key_checks (name, check_value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name.as_str())
            .bind(value.as_str())
            .execute(&self.pool)
            .await?;
            let stored: String =
                sqlx::query("SELECT check_value FROM pii_key_checks WHERE name = $1")
                    .bind(name.as_str())
                    .fetch_one(&self.pool)
                    .await?
                    .try_get("check_value")?;
            if &stored != value {
                let what = match name.strip_prefix("data:") {
                    Some(kid) => format!("the data key {kid}"),
                    None => "the index key (SEALDESK_INDEX_KEY)".into(),
                };
                return Err(StoreError::Other(format!(
                    "{what} is not the one this database was written with: every instance needs the same keys"
                )));
            }
        }
        Ok(())
    }

    /// Other orders of `o`'s holder (same 统一社会信用代码, or for a person the same 身份证号码), newest first, at
    /// most [`HOLDER_ORDERS_MAX`]: one index range (`orders_holder_index`), no count. Orders whose
    /// `holder_index` was never written (before migration 0028, until `keys reencrypt`) are not found.
    pub async fn holder_orders(&self, o: &Order) -> Result<Vec<Order>> {
        let Some(index) = order_holder_index(o, self.pii.as_deref()) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(HOLDER_ORDERS_SQL)
            .bind(index)
            .bind(o.id)
            .bind(HOLDER_ORDERS_MAX)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| crate::order_from_row(r, self.pii.as_deref()))
            .collect()
    }

    /// The query plan of [`Store::holder_orders`] for `o` (see [`Store::explain`]); empty without a holder.
    pub async fn explain_holder_orders(&self, o: &Order) -> Result<Vec<String>> {
        let Some(index) = order_holder_index(o, self.pii.as_deref()) else {
            return Ok(Vec::new());
        };
        self.explain(
            HOLDER_ORDERS_SQL,
            &[
                crate::PlanArg::Text(index),
                crate::PlanArg::Int(o.id),
                crate::PlanArg::Int(HOLDER_ORDERS_MAX),
            ],
        )
        .await
    }

    /// Seals every personal value that is plain or sealed under an older key anew under the current key, fills
    /// the blind-index columns of rows written before them (the holder index included) and takes the mobile
    /// out of their search text. Safe
    /// while servers run (a row they change between the read and the rewrite is left to them) and idempotent:
    /// a second run finds nothing to do. Needs keys.
    pub async fn reencrypt_personal_data(&self) -> Result<Reencrypted> {
        let Some(keys) = self.pii.clone() else {
            return Err(StoreError::Other(
                "no data keys: set SEALDESK_DATA_KEYS and SEALDESK_INDEX_KEY (or the data directory's key files)"
                    .into(),
            ));
        };
        let p: &PiiKeys = &keys;
        let mut done = Reencrypted::default();
        let mut last = i64::MIN;
        loop {
            let rows = sqlx::query(
                "SELECT id, body, mobile_index, holder_index FROM orders WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(last)
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await?;
            let Some(r) = rows.last() else { break };
            last = r.try_get("id")?;
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let body: String = r.try_get("body")?;
                let index: Option<String> = r.try_get("mobile_index")?;
                let o = open_order_body(&body, Some(p))?;
                let wants_index = order_mobile_index(&o, Some(p));
                let holder: Option<String> = r.try_get("holder_index")?;
                let wants_holder = order_holder_index(&o, Some(p));
                if !order_body_is_stale(&body, p)? && index == wants_index && holder == wants_holder
                {
                    continue;
                }
                let n = sqlx::query(
                    "UPDATE orders SET body = $1, search_text = $2, mobile_index = $3, holder_index = $6 WHERE id = $4 AND body = $5",
                )
                .bind(seal_order_body(&o, Some(p))?)
                .bind(crate::search::text(&o, Some(p)))
                .bind(wants_index)
                .bind(id)
                .bind(body.as_str())
                .bind(wants_holder)
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 1 {
                    done.orders += 1;
                } else {
                    done.raced += 1;
                }
            }
        }
        let mut last = i64::MIN;
        loop {
            let rows = sqlx::query(
                "SELECT id, mobile, mobile_index FROM applicants WHERE id > $1 ORDER BY id LIMIT $2",
            )
            .bind(last)
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await?;
            let Some(r) = rows.last() else { break };
            last = r.try_get("id")?;
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let stored: String = r.try_get("mobile")?;
                let index: Option<String> = r.try_get("mobile_index")?;
                if index.is_some() && !p.data.text_is_stale(&stored) {
                    continue;
                }
                let place = applicant_place(id);
                let mobile = open_text(Some(p), &place, &stored)?;
                let n = sqlx::query(
                    "UPDATE applicants SET mobile = $1, mobile_index = $2 WHERE id = $3 AND mobile = $4",
                )
                .bind(p.data.seal_text(&place, &mobile, nonce()))
                .bind(p.index.mobile(&mobile))
                .bind(id)
                .bind(stored.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 1 {
                    done.applicants += 1;
                } else {
                    done.raced += 1;
                }
            }
        }
        done.sms = self.reseal_outbox(p, &mut done.raced).await?;
        done.invoices = self.reseal_invoices(p, &mut done.raced).await?;
        Ok(done)
    }

    /// Rows of `sql` (which selects from one table `WHERE id > $1 ORDER BY id LIMIT $2`) after id `last`, a
    /// batch at a time.
    async fn batch_after(&self, sql: &'static str, last: i64) -> Result<Vec<sqlx::any::AnyRow>> {
        Ok(sqlx::query(sql)
            .bind(last)
            .bind(BATCH)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The invoices' part of [`Store::reencrypt_personal_data`]: the buyer's mobile and e-mail in each body sealed
    /// under the current key. Returns how many rows changed.
    async fn reseal_invoices(&self, p: &PiiKeys, raced: &mut u64) -> Result<u64> {
        let mut changed = 0;
        let mut last = i64::MIN;
        loop {
            let rows = self
                .batch_after(
                    "SELECT id, body FROM invoices WHERE id > $1 ORDER BY id LIMIT $2",
                    last,
                )
                .await?;
            let Some(r) = rows.last() else { break };
            last = r.try_get("id")?;
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let stored: String = r.try_get("body")?;
                if !invoice_body_is_stale(&stored, p)? {
                    continue;
                }
                let body = open_invoice_body(id, &stored, Some(p))?;
                let n = sqlx::query("UPDATE invoices SET body = $1 WHERE id = $2 AND body = $3")
                    .bind(seal_invoice_body(id, &body, Some(p))?)
                    .bind(id)
                    .bind(stored.as_str())
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                if n == 1 {
                    changed += 1;
                } else {
                    *raced += 1;
                }
            }
        }
        Ok(changed)
    }

    /// Fills `orders.holder_index` of rows that have none (written before migration 0028), one batch of at most
    /// `batch` such rows after id `after`: returns how many it filled and the last id it looked at (`None`: no
    /// row left). Orders without a holder to compare keep none. Each row is set only if it still has no index
    /// (compare-and-set), so several instances may run it at once; `serve` runs it in the background at start,
    /// so that the 审核预检's duplicate check finds older orders without waiting for `keys reencrypt`.
    pub async fn backfill_holder_index(
        &self,
        after: i64,
        batch: i64,
    ) -> Result<(u64, Option<i64>)> {
        let rows = sqlx::query(
            "SELECT id, body FROM orders WHERE holder_index IS NULL AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(batch)
        .fetch_all(&self.pool)
        .await?;
        let mut filled = 0;
        let mut last = None;
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            last = Some(id);
            let o = open_order_body(&r.try_get::<String, _>("body")?, self.pii.as_deref())?;
            let Some(index) = order_holder_index(&o, self.pii.as_deref()) else {
                continue;
            };
            filled += sqlx::query(
                "UPDATE orders SET holder_index = $1 WHERE id = $2 AND holder_index IS NULL",
            )
            .bind(index)
            .bind(id)
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok((filled, last))
    }

    /// The SMS outbox's part of [`Store::reencrypt_personal_data`]: each message's number, text and variables
    /// sealed under the current key, with the number's blind index. Returns how many rows changed.
    async fn reseal_outbox(&self, p: &PiiKeys, raced: &mut u64) -> Result<u64> {
        let mut changed = 0;
        let mut last = i64::MIN;
        loop {
            let rows = self
                .batch_after(
                    "SELECT id, mobile, text, params, mobile_index FROM sms_outbox WHERE id > $1 ORDER BY id LIMIT $2",
                    last,
                )
                .await?;
            let Some(r) = rows.last() else { break };
            last = r.try_get("id")?;
            for r in &rows {
                let id: i64 = r.try_get("id")?;
                let stored = SMS_FIELDS
                    .iter()
                    .map(|f| r.try_get::<String, _>(*f))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                let index: Option<String> = r.try_get("mobile_index")?;
                if index.is_some() && !stored.iter().any(|v| p.data.text_is_stale(v)) {
                    continue;
                }
                let open = SMS_FIELDS
                    .iter()
                    .zip(&stored)
                    .map(|(f, v)| open_text(Some(p), &sms_place(id, f), v))
                    .collect::<Result<Vec<_>>>()?;
                let n = sqlx::query(
                    "UPDATE sms_outbox SET mobile = $1, text = $2, params = $3, mobile_index = $4 WHERE id = $5 AND mobile = $6",
                )
                .bind(seal_sms_field(Some(p), id, "mobile", &open[0]))
                .bind(seal_sms_field(Some(p), id, "text", &open[1]))
                .bind(seal_sms_field(Some(p), id, "params", &open[2]))
                .bind(p.index.mobile(&open[0]))
                .bind(id)
                .bind(stored[0].as_str())
                .execute(&self.pool)
                .await?
                .rows_affected();
                if n == 1 {
                    changed += 1;
                } else {
                    *raced += 1;
                }
            }
        }
        Ok(changed)
    }
}
