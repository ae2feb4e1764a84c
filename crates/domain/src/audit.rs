//! The audit chains: every entry carries the SM3 hash (HMAC-SM3 under the audit key) of the one before in its
//! chain, so an edited or deleted row shows.
//!
//! Since issue 13 the log is one chain per order plus chain 0 for platform events (sign-ins, operator
//! administration), so that writers on different orders do not queue on one head. Entries written before that
//! form the *legacy* chain (no [`ChainPos`]), verified as before; every per-order chain starts from the legacy
//! chain's last hash. A [`Checkpoint`] lists the heads of all chains at one moment and is signed with the seal
//! maker's key, so that a chain's tail cannot be cut off together with its head row unseen.

use sm3::{Digest, Sm3};

/// The `prev_hash` of the first entry: 64 zeros.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The actions the platform records, with the words the console shows for them (操作记录, 审计日志).
pub const ACTIONS: [(&str, &str); 31] = [
    ("create", "暂存订单"),
    ("edit", "修改订单"),
    ("upload", "上传材料"),
    ("submit", "提交审核"),
    ("approve", "审核通过"),
    ("approve_first", "初审通过"),
    ("message_answered", "客服回复"),
    ("reject", "审核不通过"),
    ("invoice_info", "确认开票信息"),
    ("payment_confirmed", "支付成功"),
    ("payment_refund_due", "待退款"),
    ("payment_refunded", "退款"),
    ("bank_statement_imported", "导入银行流水"),
    ("invoice_reissued", "作废重开发票"),
    ("reject_reason_edited", "修改不通过原因"),
    ("second_approval_set", "设置二次审核"),
    ("project_settings_set", "设置项目"),
    ("authorize", "授权"),
    ("make", "制章"),
    ("seal_issued", "签发印章"),
    ("seal_revoked", "注销印章"),
    ("confirm_written", "写入 UKey"),
    ("remake", "重新制章"),
    ("confirm_cutouts", "确认印模"),
    ("signature_drawn", "在线手写签字"),
    ("cancel", "取消订单"),
    ("sign_in", "登录"),
    ("sign_in_failed", "登录失败"),
    ("locked_out", "登录锁定"),
    ("view_id_number", "查看完整证件号"),
    ("access_refused", "越权访问被拒"),
];

/// What an audit action code means, in the console's words; an unknown code is shown as is.
pub fn action_label(action: &str) -> &str {
    ACTIONS
        .iter()
        .find(|(code, _)| *code == action)
        .map(|(_, label)| *label)
        .unwrap_or(action)
}

/// One audit entry, as stored. Every field takes part in the hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// When, RFC 3339 UTC.
    pub at: String,
    /// Who: `applicant:<id>`, `operator:<name>`, `gateway:<channel>`, `platform`, `system`.
    pub actor: String,
    /// From where: the client address, or `-`.
    pub ip: String,
    /// The order concerned, if any.
    pub order_id: Option<i64>,
    /// What: an event code such as `submit`, or another action such as `seal_issued`.
    pub action: String,
    /// The order state before, if the action changed one.
    pub before_state: Option<String>,
    /// The order state after.
    pub after_state: Option<String>,
    /// Free detail (JSON text).
    pub detail: String,
    /// The hash of the entry before in the same chain, or [`GENESIS_HASH`] (legacy chain), or the legacy
    /// chain's last hash (first entry of a per-order chain).
    pub prev_hash: String,
    /// SM3 over `prev_hash` and the fields above, hex.
    pub hash: String,
    /// The chain and position of an entry of a per-order chain; `None` in the legacy chain.
    pub chain: Option<ChainPos>,
}

/// Where an entry stands in the per-order chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChainPos {
    /// The chain: the order's id, or 0 for platform events.
    pub chain_id: i64,
    /// Position in that chain, from 1.
    pub pos: i64,
}

impl ChainPos {
    /// The chain of an entry about `order_id` (0: platform events).
    pub fn chain_of(order_id: Option<i64>) -> i64 {
        order_id.unwrap_or(0)
    }
}

impl AuditRecord {
    /// The hash this record must carry. Fields are length-prefixed so that no two different records hash alike
    /// by moving bytes from one field to the next.
    pub fn compute_hash(&self) -> String {
        let mut h = Sm3::new();
        self.feed(|b| h.update(b));
        hex::encode(h.finalize())
    }

    /// The hash under an audit key: HMAC-SM3 over the same fields, so that someone who can write to the database
    /// but does not hold the key cannot rewrite an entry and re-hash the chain after it unseen. Without a key,
    /// [`AuditRecord::compute_hash`].
    pub fn compute_hash_keyed(&self, key: Option<&[u8]>) -> String {
        use hmac::{KeyInit, Mac};
        let Some(key) = key else {
            return self.compute_hash();
        };
        // HMAC accepts keys of any length, so this cannot fail.
        let Ok(mut mac) = hmac::Hmac::<Sm3>::new_from_slice(key) else {
            return String::new();
        };
        self.feed(|b| mac.update(b));
        hex::encode(mac.finalize().into_bytes())
    }

    fn feed(&self, mut update: impl FnMut(&[u8])) {
        let mut field = |b: &[u8]| {
            update(&(b.len() as u64).to_be_bytes());
            update(b);
        };
        field(self.prev_hash.as_bytes());
        field(&self.seq.to_be_bytes());
        field(self.at.as_bytes());
        field(self.actor.as_bytes());
        field(self.ip.as_bytes());
        field(
            self.order_id
                .map(|i| i.to_string())
                .unwrap_or_default()
                .as_bytes(),
        );
        field(self.action.as_bytes());
        field(self.before_state.as_deref().unwrap_or("").as_bytes());
        field(self.after_state.as_deref().unwrap_or("").as_bytes());
        field(self.detail.as_bytes());
        // Legacy entries hash as they always did; per-order entries also commit to their chain and position.
        if let Some(c) = self.chain {
            field(b"chain");
            field(&c.chain_id.to_be_bytes());
            field(&c.pos.to_be_bytes());
        }
    }

    /// Checks a chain read in `seq` order. Returns the `seq` of the first broken entry and why.
    pub fn verify_chain<'a>(
        records: impl IntoIterator<Item = &'a AuditRecord>,
    ) -> Result<u64, (i64, String)> {
        Self::verify_chain_keyed(records, None)
    }

    /// [`AuditRecord::verify_chain`] for a chain written under `key` (see [`AuditRecord::compute_hash_keyed`]).
    pub fn verify_chain_keyed<'a>(
        records: impl IntoIterator<Item = &'a AuditRecord>,
        key: Option<&[u8]>,
    ) -> Result<u64, (i64, String)> {
        let mut prev = GENESIS_HASH.to_owned();
        let mut n = 0;
        for (expect_seq, r) in (1..).zip(records) {
            if r.seq != expect_seq {
                return Err((
                    r.seq,
                    format!("expected entry {expect_seq}: an entry is missing"),
                ));
            }
            if r.prev_hash != prev {
                return Err((r.seq, "prev_hash does not match the entry before".into()));
            }
            if r.compute_hash_keyed(key) != r.hash {
                return Err((
                    r.seq,
                    if key.is_some() {
                        "hash does not match the entry's contents under the audit key: it was altered (or the key is wrong)"
                    } else {
                        "hash does not match the entry's contents: it was altered"
                    }
                    .into(),
                ));
            }
            prev = r.hash.clone();
            n += 1;
        }
        Ok(n)
    }

    /// Checks one per-order chain read in position order, whose first entry follows `first_prev` (the legacy
    /// chain's last hash). Returns the number of entries, or the global `seq` of the first broken one and why.
    pub fn verify_order_chain<'a>(
        chain_id: i64,
        first_prev: &str,
        records: impl IntoIterator<Item = &'a AuditRecord>,
        key: Option<&[u8]>,
    ) -> Result<u64, (i64, String)> {
        let mut prev = first_prev.to_owned();
        let mut n = 0;
        for (pos, r) in (1..).zip(records) {
            let at = r.chain.map(|c| (c.chain_id, c.pos));
            if at != Some((chain_id, pos)) {
                return Err((
                    r.seq,
                    format!("chain {chain_id}: expected entry {pos}: an entry is missing"),
                ));
            }
            if r.prev_hash != prev {
                return Err((
                    r.seq,
                    format!(
                        "chain {chain_id} entry {pos}: prev_hash does not match the entry before"
                    ),
                ));
            }
            if r.compute_hash_keyed(key) != r.hash {
                return Err((
                    r.seq,
                    format!(
                        "chain {chain_id} entry {pos}: hash does not match the entry's contents{}: it was altered",
                        if key.is_some() {
                            " under the audit key"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            prev = r.hash.clone();
            n += 1;
        }
        Ok(n)
    }
}

/// The head of one chain: how many entries it has and the last one's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The chain (order id, 0 for platform events).
    pub chain_id: i64,
    /// Entries in it.
    pub seq: i64,
    /// The last entry's hash.
    pub hash: String,
}

/// A checkpoint: the heads of every chain at one moment (and the legacy chain's), as the text the seal maker
/// signs. The text is the record: it is stored as signed, and parsed back to be checked against the chains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// When, RFC 3339 UTC.
    pub at: String,
    /// The legacy chain's entries and last hash.
    pub legacy: (i64, String),
    /// Every per-order chain's head, by chain id.
    pub heads: Vec<ChainHead>,
}

const CHECKPOINT_MAGIC: &str = "sealdesk audit checkpoint v1";

impl Checkpoint {
    /// The signed text: a first line naming the format, then `at`, `legacy SEQ HASH` and one `chain ID SEQ HASH`
    /// line per chain in chain order, each ended by a newline.
    pub fn text(&self) -> String {
        let mut heads = self.heads.clone();
        heads.sort_by_key(|h| h.chain_id);
        let mut t = format!(
            "{CHECKPOINT_MAGIC}\nat {}\nlegacy {} {}\n",
            self.at, self.legacy.0, self.legacy.1
        );
        for h in &heads {
            t.push_str(&format!("chain {} {} {}\n", h.chain_id, h.seq, h.hash));
        }
        t
    }

    /// Reads a checkpoint's text back; `None` if it is not one.
    pub fn parse(text: &str) -> Option<Checkpoint> {
        let mut lines = text.strip_suffix('\n')?.split('\n');
        if lines.next()? != CHECKPOINT_MAGIC {
            return None;
        }
        let at = lines.next()?.strip_prefix("at ")?.to_owned();
        let mut legacy = lines.next()?.strip_prefix("legacy ")?.split(' ');
        let legacy = (legacy.next()?.parse().ok()?, legacy.next()?.to_owned());
        let mut heads = Vec::new();
        for l in lines {
            let mut p = l.strip_prefix("chain ")?.split(' ');
            heads.push(ChainHead {
                chain_id: p.next()?.parse().ok()?,
                seq: p.next()?.parse().ok()?,
                hash: p.next()?.to_owned(),
            });
            if p.next().is_some() {
                return None;
            }
        }
        let c = Checkpoint { at, legacy, heads };
        (c.text() == text).then_some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let mut r = AuditRecord {
                    seq,
                    at: format!("2026-11-27T10:00:{seq:02}Z"),
                    actor: "operator:admin".into(),
                    ip: "127.0.0.1".into(),
                    order_id: Some(seq * 10),
                    action: "approve".into(),
                    before_state: Some("pending_review".into()),
                    after_state: Some("pending_payment".into()),
                    detail: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    chain: None,
                };
                r.hash = r.compute_hash();
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies_and_any_edit_or_gap_is_found() {
        let c = chain(5);
        assert_eq!(AuditRecord::verify_chain(&c), Ok(5));
        let mut edited = c.clone();
        edited[2].actor = "operator:mallory".into();
        assert_eq!(AuditRecord::verify_chain(&edited).unwrap_err().0, 3);
        let mut gap = c.clone();
        gap.remove(1);
        assert_eq!(AuditRecord::verify_chain(&gap).unwrap_err().0, 3);
        let mut rehashed = c;
        rehashed[1].detail = "{\"x\":1}".into();
        rehashed[1].hash = rehashed[1].compute_hash();
        assert_eq!(AuditRecord::verify_chain(&rehashed).unwrap_err().0, 3);
    }

    #[test]
    fn a_keyed_chain_cannot_be_rewritten_without_the_key() {
        let key = b"0123456789abcdef0123456789abcdef";
        let mut c = chain(4);
        let mut prev = GENESIS_HASH.to_owned();
        for r in &mut c {
            r.prev_hash = prev.clone();
            r.hash = r.compute_hash_keyed(Some(key));
            prev = r.hash.clone();
        }
        assert_eq!(AuditRecord::verify_chain_keyed(&c, Some(key)), Ok(4));
        assert_ne!(
            c[0].hash,
            c[0].compute_hash(),
            "keyed differs from plain SM3"
        );
        // Someone with database access edits entry 2 and re-hashes the rest with plain SM3: caught at 1, because
        // the whole chain must carry the key's MACs.
        let mut forged = c.clone();
        forged[1].actor = "operator:mallory".into();
        let mut prev = GENESIS_HASH.to_owned();
        for r in &mut forged {
            r.prev_hash = prev.clone();
            r.hash = r.compute_hash();
            prev = r.hash.clone();
        }
        assert_eq!(
            AuditRecord::verify_chain_keyed(&forged, Some(key))
                .unwrap_err()
                .0,
            1
        );
        // A wrong key fails from the first entry.
        assert_eq!(
            AuditRecord::verify_chain_keyed(&c, Some(b"another key of the same length!!"))
                .unwrap_err()
                .0,
            1
        );
        assert_eq!(AuditRecord::verify_chain(&c).unwrap_err().0, 1);
    }

    fn order_chain(chain_id: i64, first_prev: &str, n: i64) -> Vec<AuditRecord> {
        let mut prev = first_prev.to_owned();
        (1..=n)
            .map(|pos| {
                let mut r = AuditRecord {
                    seq: 100 + pos,
                    at: "2026-12-01T00:00:00Z".into(),
                    actor: "applicant:1".into(),
                    ip: "127.0.0.1".into(),
                    order_id: Some(chain_id),
                    action: "edit".into(),
                    before_state: None,
                    after_state: None,
                    detail: "{}".into(),
                    prev_hash: prev.clone(),
                    hash: String::new(),
                    chain: Some(ChainPos { chain_id, pos }),
                };
                r.hash = r.compute_hash();
                prev = r.hash.clone();
                r
            })
            .collect()
    }

    #[test]
    fn an_order_chain_starts_after_the_legacy_head_and_commits_to_its_place() {
        let legacy = chain(3);
        let head = legacy[2].hash.clone();
        let c = order_chain(7, &head, 4);
        assert_eq!(AuditRecord::verify_order_chain(7, &head, &c, None), Ok(4));
        // Not after the legacy head: the first entry's link is wrong.
        assert_eq!(
            AuditRecord::verify_order_chain(7, GENESIS_HASH, &c, None),
            Err((
                101,
                "chain 7 entry 1: prev_hash does not match the entry before".into()
            ))
        );
        // Moved to another chain (its position relabelled): its hash no longer matches.
        let mut moved = c.clone();
        moved[0].chain = Some(ChainPos {
            chain_id: 8,
            pos: 1,
        });
        assert_eq!(
            AuditRecord::verify_order_chain(8, &head, &moved[..1], None),
            Err((
                101,
                "chain 8 entry 1: hash does not match the entry's contents: it was altered".into()
            ))
        );
        let mut gap = c.clone();
        gap.remove(2);
        assert_eq!(
            AuditRecord::verify_order_chain(7, &head, &gap, None),
            Err((104, "chain 7: expected entry 3: an entry is missing".into()))
        );
    }

    #[test]
    fn a_checkpoint_text_reads_back_and_nothing_else_does() {
        let c = Checkpoint {
            at: "2026-12-01T00:00:00Z".into(),
            legacy: (3, "ab".into()),
            heads: vec![
                ChainHead {
                    chain_id: 9,
                    seq: 2,
                    hash: "cd".into(),
                },
                ChainHead {
                    chain_id: 0,
                    seq: 5,
                    hash: "ef".into(),
                },
            ],
        };
        let t = c.text();
        assert_eq!(
            t,
            "sealdesk audit checkpoint v1\nat 2026-12-01T00:00:00Z\nlegacy 3 ab\nchain 0 5 ef\nchain 9 2 cd\n"
        );
        let back = Checkpoint::parse(&t).unwrap();
        assert_eq!(back.text(), t);
        assert_eq!(back.heads[0].chain_id, 0);
        assert_eq!(
            Checkpoint::parse(&t.replace("chain 9 2 cd\n", "chain 9 2 cd x\n")),
            None
        );
        assert_eq!(
            Checkpoint::parse(&t.replace("\nchain 0", "\nchain  0")),
            None
        );
    }
}
