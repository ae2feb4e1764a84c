//! Sign-in: applicants by mobile number and SMS code, operators by name and argon2 password; sessions stored as
//! the SM3 hash of a random token, each with its CSRF token.

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use base64::Engine;
use sealdesk_adapters::{random_bytes, sm3_hex};
use sealdesk_domain::validate;
use sealdesk_store::{Session, SmsCode, StoreError};
use subtle::ConstantTimeEq;

use crate::{App, AppError, sms};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// 申请人, identified by the mobile number they proved.
    Applicant {
        /// Applicant id.
        id: i64,
    },
    /// 操作员.
    Operator {
        /// Operator id.
        id: i64,
        /// Sign-in name.
        name: String,
        /// Sees every project, has every role.
        is_admin: bool,
        /// What the operator may do ([`Principal::may`]).
        roles: sealdesk_domain::Roles,
    },
    /// A payment gateway whose notification verified.
    Gateway(String),
    /// The platform itself.
    Platform,
}

impl Principal {
    /// Whether the caller is an operator who may act as `role`: one who has it, or a super-administrator.
    pub fn may(&self, role: sealdesk_domain::Role) -> bool {
        matches!(self, Principal::Operator { is_admin: true, .. })
            || matches!(self, Principal::Operator { roles, .. } if roles.has(role))
    }

    /// How the audit log names the caller.
    pub fn audit_name(&self) -> String {
        match self {
            Principal::Applicant { id } => format!("applicant:{id}"),
            Principal::Operator { name, .. } => format!("operator:{name}"),
            Principal::Gateway(c) => format!("gateway:{c}"),
            Principal::Platform => "platform".into(),
        }
    }
}

/// A new session.
#[derive(Debug, Clone)]
pub struct SignedIn {
    /// The bearer token / cookie value. Shown once; only its hash is stored.
    pub token: String,
    /// The CSRF token forms must echo.
    pub csrf: String,
    /// Who.
    pub principal: Principal,
    /// Unix seconds.
    pub expires_at: i64,
}

pub(crate) const CODE_TTL: i64 = 300;
const CODE_RESEND_AFTER: i64 = 60;
const CODE_MAX_TRIES: i32 = 5;
pub(crate) const APPLICANT_SESSION: i64 = 12 * 3600;
const OPERATOR_SESSION: i64 = 8 * 3600;
/// Wrong operator passwords in a row, per name and client address, before that pair is locked.
pub const OPERATOR_MAX_FAILURES: u32 = 5;
/// How long a locked operator name stays locked for that address, seconds.
pub const OPERATOR_LOCKOUT: i64 = 15 * 60;
/// Sign-in codes one mobile number may ask for in an hour.
pub const CODES_PER_HOUR: i64 = 5;
/// Sign-in codes one mobile number may ask for in a (Beijing) day.
pub const CODES_PER_DAY: i64 = 10;
/// Sign-in codes one client address may ask for in an hour (for any numbers).
pub const CODES_PER_ADDRESS_HOUR: i64 = 30;
/// Wrong codes, across codes, that end a number's sign-in until the next (Beijing) day.
pub const WRONG_CODES_PER_DAY: i64 = 10;
/// Wrong codes one client address may send in a (Beijing) day.
pub const WRONG_CODES_PER_ADDRESS_DAY: i64 = 50;
/// Password hashes computed at once: argon2 takes 19 MiB and a core each, so a flood of sign-ins waits here
/// instead of taking the server's memory and CPU.
pub(crate) const HASHING_AT_ONCE: usize = 2;
/// How long a sign-in waits for a hashing slot before it is told to come back later.
const HASHING_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The most argon2 memory one stored hash may ask for, in 1 KiB blocks (4× the default 19 MiB): the hashes are
/// ours, and a row asking for gigabytes must not take the server's memory.
const HASH_MEMORY_MAX_BLOCKS: usize = 4 * Params::DEFAULT_M_COST as usize;

/// Password verification, bounded: at most `slots` argon2 computations at once, each in a working memory that is
/// allocated once per slot and reused, never freed. Allocating 19 MiB per sign-in and freeing it is what let
/// a sign-in flood grow the server to hundreds of megabytes: glibc raises its mmap threshold after the first
/// such free, so later blocks come from per-thread arenas that keep the memory.
#[derive(Clone)]
pub(crate) struct Hashing {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
    /// The working memories not in use; there are never more than `slots` of them.
    memory: std::sync::Arc<std::sync::Mutex<Vec<Vec<Block>>>>,
    wait: std::time::Duration,
}

impl Hashing {
    pub(crate) fn new(slots: usize, wait: std::time::Duration) -> Hashing {
        Hashing {
            slots: std::sync::Arc::new(tokio::sync::Semaphore::new(slots)),
            memory: std::sync::Arc::default(),
            wait,
        }
    }

    /// The server's: [`HASHING_AT_ONCE`] slots, [`HASHING_WAIT`].
    pub(crate) fn for_server() -> Hashing {
        Hashing::new(HASHING_AT_ONCE, HASHING_WAIT)
    }

    /// Whether `password` matches the PHC string `hash`. The slot and its memory are held by the blocking task
    /// itself, so a request that gives up (timeout, closed connection) frees them only when the hashing is done:
    /// the bound holds.
    pub(crate) async fn verify(&self, password: &str, hash: String) -> Result<bool, AppError> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| AppError::RateLimited("登录请求较多，请稍后再试".into()))?
            .map_err(|e| AppError::Internal(e.to_string()))?;
        let pool = self.memory.clone();
        let mut memory = lock(&pool).pop().unwrap_or_default();
        let pw = zeroize::Zeroizing::new(password.to_owned());
        tokio::task::spawn_blocking(move || {
            let ok = verify_in(&mut memory, pw.as_bytes(), &hash);
            // What argon2 leaves in its memory lets a guess be checked without the memory-hard work.
            memory.fill(Block::new());
            lock(&pool).push(memory);
            drop(permit);
            ok
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
    }

    /// How many working memories exist (each [`Params::DEFAULT_M_COST`] KiB for the server's hashes): never more
    /// than the slots, since one is made only when every existing one is in use.
    #[cfg(test)]
    fn memories(&self) -> usize {
        lock(&self.memory).len()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Verifies `password` against the PHC string `hash`, computing argon2 in `memory` (grown to the hash's memory
/// cost on first use, then reused as it is). A malformed hash, or one asking for more than
/// [`HASH_MEMORY_MAX_BLOCKS`], matches nothing.
fn verify_in(memory: &mut Vec<Block>, password: &[u8], hash: &str) -> bool {
    let Ok(phc) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(version), Ok(params)) = (
        Algorithm::try_from(phc.algorithm.as_str()),
        phc.version
            .map_or(Ok(Version::default()), Version::try_from),
        Params::try_from(&phc),
    ) else {
        return false;
    };
    let blocks = params.block_count();
    if blocks > HASH_MEMORY_MAX_BLOCKS {
        tracing::warn!(
            blocks,
            "a password hash asks for more argon2 memory than allowed"
        );
        return false;
    }
    if memory.len() < blocks {
        memory.reserve_exact(blocks - memory.len());
        memory.resize(blocks, Block::new());
    }
    let mut out = zeroize::Zeroizing::new(vec![0u8; expected.len()]);
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt.as_ref(), &mut out, &mut memory[..blocks])
        .is_ok()
        && bool::from(out.ct_eq(expected.as_bytes()))
}

/// The Beijing calendar day of `t`, as days since the epoch (limits count per day as applicants live it).
fn beijing_day(t: i64) -> i64 {
    (t + 8 * 3600).div_euclid(86_400)
}

/// A mobile number as the audit log shows it: enough to find it, not enough to read it off the log.
fn masked(mobile: &str) -> String {
    let n = mobile.chars().count();
    mobile
        .chars()
        .enumerate()
        .map(|(i, c)| if i >= 3 && i + 4 < n { '*' } else { c })
        .collect()
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = random_bytes::<16>();
    Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::Internal(format!("argon2: {e}")))
}

fn code_hash(mobile: &str, code: &str) -> String {
    sm3_hex(format!("{mobile}:{code}").as_bytes())
}

impl App {
    /// Sends a 6-digit sign-in code to `mobile` (through the SMS outbox), within the limits per number and per
    /// client address (counted in the database, across codes and instances).
    pub async fn send_login_code(&self, mobile: &str, ip: &str) -> Result<(), AppError> {
        let mobile = validate::mobile(mobile).map_err(|m| AppError::field("mobile", m))?;
        let now = self.now();
        if let Some(sent) = self.store.sms_code_sent_at(&mobile).await? {
            let wait = sent + CODE_RESEND_AFTER - now;
            if wait > 0 {
                return Err(AppError::RateLimited(format!(
                    "验证码已发送，请 {wait} 秒后再试"
                )));
            }
        }
        let hour = now.div_euclid(3600);
        let next_hour_min = (3600 - now.rem_euclid(3600) + 59) / 60;
        if self.store.bump_counter("code_ip_hour", ip, hour).await? > CODES_PER_ADDRESS_HOUR {
            return Err(AppError::RateLimited(format!(
                "获取验证码过于频繁，请 {next_hour_min} 分钟后再试"
            )));
        }
        if self
            .store
            .bump_counter("code_mobile_hour", &mobile, hour)
            .await?
            > CODES_PER_HOUR
        {
            return Err(AppError::RateLimited(format!(
                "该手机号获取验证码次数过多，请 {next_hour_min} 分钟后再试"
            )));
        }
        if self
            .store
            .bump_counter("code_mobile_day", &mobile, beijing_day(now))
            .await?
            > CODES_PER_DAY
        {
            return Err(AppError::RateLimited(
                "该手机号今日获取验证码次数已达上限，请明天（北京时间 0 点后）再试".into(),
            ));
        }
        let n = u32::from_be_bytes(random_bytes::<4>()) % 1_000_000;
        let code = format!("{n:06}");
        self.store
            .put_sms_code(&SmsCode {
                mobile: mobile.clone(),
                code_hash: code_hash(&mobile, &code),
                expires_at: now + CODE_TTL,
                attempts: 0,
                sent_at: now,
            })
            .await?;
        self.store
            .push_sms_with(
                &mobile,
                "login_code",
                &sms::login_code(&self.cfg.sms_signature, &code),
                &[("code", &code)],
            )
            .await?;
        Ok(())
    }

    /// Signs an applicant in with the code sent to `mobile`. Wrong codes count per number and per client
    /// address across codes: a new code does not reset them.
    pub async fn sign_in_with_code(
        &self,
        mobile: &str,
        code: &str,
        ip: &str,
    ) -> Result<SignedIn, AppError> {
        let mobile = validate::mobile(mobile).map_err(|m| AppError::field("mobile", m))?;
        let day = beijing_day(self.now());
        let tomorrow = || {
            AppError::RateLimited(
                "验证码错误次数过多，今日已不能用此手机号登录，请明天（北京时间 0 点后）再试"
                    .into(),
            )
        };
        if self.store.counter("wrong_mobile_day", &mobile, day).await? >= WRONG_CODES_PER_DAY
            || self.store.counter("wrong_ip_day", ip, day).await? >= WRONG_CODES_PER_ADDRESS_DAY
        {
            return Err(tomorrow());
        }
        let rec = match self.store.take_sms_attempt(&mobile).await {
            Err(StoreError::NotFound) => {
                return Err(AppError::BadCredentials("请先获取短信验证码".into()));
            }
            other => other?,
        };
        if rec.attempts > CODE_MAX_TRIES {
            return Err(AppError::RateLimited(
                "验证码错误次数过多，请重新获取".into(),
            ));
        }
        if rec.expires_at <= self.now() {
            return Err(AppError::BadCredentials("验证码已过期，请重新获取".into()));
        }
        let given = code_hash(&mobile, code.trim());
        if !bool::from(given.as_bytes().ct_eq(rec.code_hash.as_bytes())) {
            let wrong = self
                .store
                .bump_counter("wrong_mobile_day", &mobile, day)
                .await?;
            self.store.bump_counter("wrong_ip_day", ip, day).await?;
            let actor = format!("mobile:{}", masked(&mobile));
            self.audit_event(
                &actor,
                ip,
                "sign_in_failed",
                serde_json::json!({"wrong_today": wrong}),
            )
            .await?;
            if wrong >= WRONG_CODES_PER_DAY {
                self.audit_event(
                    &actor,
                    ip,
                    "locked_out",
                    serde_json::json!({"until": "next day"}),
                )
                .await?;
                return Err(tomorrow());
            }
            return Err(AppError::BadCredentials("验证码不正确".into()));
        }
        self.store.delete_sms_code(&mobile).await?;
        let id = self.store.applicant_for_mobile(&mobile).await?;
        let p = Principal::Applicant { id };
        self.audit_event(
            &p.audit_name(),
            ip,
            "sign_in",
            serde_json::json!({"mobile": masked(&mobile)}),
        )
        .await?;
        self.new_session("applicant", id, p, APPLICANT_SESSION)
            .await
    }

    /// Signs an operator in. Each attempt is counted in the database per name *and* client address before its
    /// password is checked, so parallel guesses beyond [`OPERATOR_MAX_FAILURES`] are refused unevaluated, and a
    /// stranger elsewhere cannot lock `admin` out; a locked pair is refused for [`OPERATOR_LOCKOUT`] seconds.
    pub async fn sign_in_operator(
        &self,
        name: &str,
        password: &str,
        ip: &str,
    ) -> Result<SignedIn, AppError> {
        let bad = || AppError::BadCredentials("用户名或密码不正确".into());
        let key: String = name.trim().chars().take(64).collect();
        let actor = format!("operator:{key}");
        let locked = |until: i64| {
            AppError::RateLimited(format!(
                "密码错误次数过多，请 {} 分钟后再试",
                (until - self.now() + 59).max(60) / 60
            ))
        };
        let max = i64::from(OPERATOR_MAX_FAILURES);
        let n = self
            .store
            .reserve_login_attempt(&key, ip, self.now(), max, OPERATOR_LOCKOUT)
            .await?;
        if n > max {
            let until = self
                .store
                .login_locked_until(&key, ip, max, OPERATOR_LOCKOUT)
                .await?
                .unwrap_or(self.now() + OPERATOR_LOCKOUT);
            return Err(locked(until));
        }
        let op = match self.store.operator_by_name(&key).await {
            Ok(op) => Some(op),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Verify against some hash even for an unknown name, so the answer takes as long either way.
        let hash = match &op {
            Some(o) => o.password_hash.clone(),
            None => dummy_hash()?,
        };
        let ok = self.check_password(password, hash).await?;
        match op {
            Some(op) if ok => {
                self.store.clear_login_failures(&key, ip).await?;
                let p = Principal::Operator {
                    id: op.id,
                    name: op.name.clone(),
                    is_admin: op.is_admin,
                    roles: op.roles,
                };
                self.audit_event(&actor, ip, "sign_in", serde_json::json!({}))
                    .await?;
                self.new_session("operator", op.id, p, OPERATOR_SESSION)
                    .await
            }
            _ => {
                self.audit_event(
                    &actor,
                    ip,
                    "sign_in_failed",
                    serde_json::json!({"failures": n}),
                )
                .await?;
                if n == max {
                    self.audit_event(
                        &actor,
                        ip,
                        "locked_out",
                        serde_json::json!({"minutes": OPERATOR_LOCKOUT / 60}),
                    )
                    .await?;
                }
                Err(bad())
            }
        }
    }

    /// argon2 verification on the blocking pool, at most [`HASHING_AT_ONCE`] at a time (see [`Hashing`]).
    async fn check_password(&self, password: &str, hash: String) -> Result<bool, AppError> {
        self.hashing.verify(password, hash).await
    }

    /// One audit entry that belongs to no order (sign-ins, lock-outs), in its own transaction.
    pub(crate) async fn audit_event(
        &self,
        actor: &str,
        ip: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        tx.append_audit(sealdesk_store::AuditDraft {
            actor: actor.into(),
            ip: ip.into(),
            action: action.into(),
            detail: detail.to_string(),
            ..Default::default()
        })
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(crate) async fn new_session(
        &self,
        kind: &str,
        subject_id: i64,
        principal: Principal,
        ttl: i64,
    ) -> Result<SignedIn, AppError> {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let csrf = hex::encode(random_bytes::<16>());
        let expires_at = self.now() + ttl;
        self.store
            .create_session(&Session {
                token_hash: sm3_hex(token.as_bytes()),
                kind: kind.into(),
                subject_id,
                csrf: csrf.clone(),
                expires_at,
            })
            .await?;
        Ok(SignedIn {
            token,
            csrf,
            principal,
            expires_at,
        })
    }

    /// The principal and CSRF token of a live session.
    pub async fn session(&self, token: &str) -> Result<(Principal, String), AppError> {
        if token.is_empty() || token.len() > 100 {
            return Err(AppError::Unauthenticated);
        }
        let s = match self
            .store
            .session(&sm3_hex(token.as_bytes()), self.now())
            .await
        {
            Err(StoreError::NotFound) => return Err(AppError::Unauthenticated),
            other => other?,
        };
        let p = match s.kind.as_str() {
            "applicant" => Principal::Applicant { id: s.subject_id },
            "operator" => {
                let op = self
                    .store
                    .operator(s.subject_id)
                    .await
                    .map_err(|_| AppError::Unauthenticated)?;
                Principal::Operator {
                    id: op.id,
                    name: op.name,
                    is_admin: op.is_admin,
                    roles: op.roles,
                }
            }
            _ => return Err(AppError::Unauthenticated),
        };
        Ok((p, s.csrf))
    }

    /// Ends a session.
    pub async fn sign_out(&self, token: &str) -> Result<(), AppError> {
        Ok(self
            .store
            .delete_session(&sm3_hex(token.as_bytes()))
            .await?)
    }

    /// Creates the operator `name` if missing (demo set-up and `sealdesk operator add`).
    pub async fn ensure_operator(
        &self,
        name: &str,
        password: &str,
        is_admin: bool,
    ) -> Result<i64, AppError> {
        match self.store.operator_by_name(name).await {
            Ok(op) => Ok(op.id),
            Err(StoreError::NotFound) => Ok(self
                .store
                .create_operator(name, &hash_password(password)?, is_admin)
                .await?
                .id),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates the operator `name` with `roles` if missing, or sets the roles of the existing one
    /// (`sealdesk operator add --roles`).
    pub async fn ensure_operator_with_roles(
        &self,
        name: &str,
        password: &str,
        is_admin: bool,
        roles: sealdesk_domain::Roles,
    ) -> Result<i64, AppError> {
        match self.store.operator_by_name(name).await {
            Ok(op) => {
                self.store.set_operator_roles(op.id, roles).await?;
                Ok(op.id)
            }
            Err(StoreError::NotFound) => Ok(self
                .store
                .create_operator_with_roles(name, &hash_password(password)?, is_admin, roles)
                .await?
                .id),
            Err(e) => Err(e.into()),
        }
    }

    /// The SMS outbox (demo mode only: in production it holds other people's messages).
    pub async fn demo_outbox(
        &self,
        mobile: Option<&str>,
    ) -> Result<Vec<sealdesk_store::OutboxSms>, AppError> {
        if !self.cfg.demo {
            return Err(AppError::NotFound);
        }
        Ok(self.store.outbox(mobile, 50).await?)
    }
}

/// argon2id of a random password nobody knows, made once, for refusing unknown operator names as slowly as
/// wrong passwords.
fn dummy_hash() -> Result<String, AppError> {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(h) = DUMMY.get() {
        return Ok(h.clone());
    }
    let h = hash_password(&hex::encode(random_bytes::<16>()))?;
    Ok(DUMMY.get_or_init(|| h).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verification_reuses_one_memory_and_tells_right_from_wrong() {
        let a = hash_password("正确的密码 1").unwrap();
        let b = hash_password("another-pass").unwrap();
        let mut memory = Vec::new();
        assert!(verify_in(&mut memory, "正确的密码 1".as_bytes(), &a));
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize);
        let at = memory.as_ptr();
        assert!(!verify_in(&mut memory, b"wrong", &a));
        assert!(verify_in(&mut memory, b"another-pass", &b));
        assert!(!verify_in(&mut memory, "正确的密码 1".as_bytes(), &b));
        // Hashes with other parameters (argon2i, version 0x10, 64 KiB, 16-byte output) verify in the same memory.
        let other = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x10,
            Params::new(64, 3, 1, Some(16)).unwrap(),
        )
        .hash_password_with_salt(b"pw", b"salt-of-12-bytes")
        .unwrap()
        .to_string();
        assert!(verify_in(&mut memory, b"pw", &other));
        assert!(!verify_in(&mut memory, b"pW", &other));
        assert_eq!(memory.as_ptr(), at, "the same memory, never a new one");
        // A malformed hash, or one asking for more memory than allowed, matches nothing and takes nothing.
        assert!(!verify_in(&mut memory, b"pw", "not a PHC string"));
        let greedy = a.replace(
            "m=19456,",
            // argon2 rounds the memory down to a multiple of 4 blocks per lane: 8 more is over the limit.
            &format!("m={},", HASH_MEMORY_MAX_BLOCKS as u32 + 8),
        );
        assert_ne!(greedy, a);
        assert!(!verify_in(&mut memory, "正确的密码 1".as_bytes(), &greedy));
        assert_eq!(memory.len(), Params::DEFAULT_M_COST as usize);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_slots_hash_at_once_and_a_full_queue_is_told_to_come_back() {
        let hash = hash_password("pw-1").unwrap();
        let hashing = Hashing::new(HASHING_AT_ONCE, std::time::Duration::from_secs(60));
        let checks: Vec<_> = (0..12)
            .map(|i| {
                let (h, hash) = (hashing.clone(), hash.clone());
                tokio::spawn(async move {
                    h.verify(if i % 3 == 0 { "pw-1" } else { "nope" }, hash)
                        .await
                })
            })
            .collect();
        for (i, c) in checks.into_iter().enumerate() {
            assert_eq!(c.await.unwrap().unwrap(), i % 3 == 0, "check {i}");
        }
        // A working memory is made only when every existing one is in use, so there are as many as ever ran
        // at once: at most the slots, however many sign-ins came together.
        let made = hashing.memories();
        assert!((1..=HASHING_AT_ONCE).contains(&made), "{made} memories");

        // Every slot taken: a sign-in waits its time, then is told to come back, unhashed.
        let short = Hashing {
            wait: std::time::Duration::from_millis(50),
            ..hashing.clone()
        };
        let held = short
            .slots
            .clone()
            .acquire_many_owned(HASHING_AT_ONCE as u32)
            .await
            .unwrap();
        match short.verify("pw-1", hash.clone()).await {
            Err(AppError::RateLimited(m)) => assert_eq!(m, "登录请求较多，请稍后再试"),
            other => panic!("expected 429, got {other:?}"),
        }
        assert_eq!(hashing.memories(), made, "nothing was hashed");
        drop(held);
        assert!(short.verify("pw-1", hash).await.unwrap());
        assert_eq!(hashing.memories(), made);
    }
}
