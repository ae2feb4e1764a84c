//! Sign-in: applicants by mobile number and SMS code, operators by name and argon2 password; sessions stored as
//! the SM3 hash of a random token, each with its CSRF token.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use base64::Engine;
use sealdesk_adapters::{random_bytes, sm3_hex};
use sealdesk_domain::validate;
use sealdesk_store::{Session, SmsCode, StoreError};
use subtle::ConstantTimeEq;

use crate::{App, AppError, now, sms};

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
        /// Sees every project.
        is_admin: bool,
    },
    /// A payment gateway whose notification verified.
    Gateway(String),
    /// The platform itself.
    Platform,
}

impl Principal {
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

const CODE_TTL: i64 = 300;
const CODE_RESEND_AFTER: i64 = 60;
const CODE_MAX_TRIES: i32 = 5;
const APPLICANT_SESSION: i64 = 12 * 3600;
const OPERATOR_SESSION: i64 = 8 * 3600;
/// Wrong operator passwords in a row before the name is locked.
pub const OPERATOR_MAX_FAILURES: u32 = 5;
/// How long a locked operator name stays locked, seconds.
pub const OPERATOR_LOCKOUT: i64 = 15 * 60;

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
    /// Sends a 6-digit sign-in code to `mobile` (through the SMS outbox).
    pub async fn send_login_code(&self, mobile: &str) -> Result<(), AppError> {
        let mobile = validate::mobile(mobile).map_err(|m| AppError::field("mobile", m))?;
        let now = now();
        if let Some(sent) = self.store.sms_code_sent_at(&mobile).await? {
            let wait = sent + CODE_RESEND_AFTER - now;
            if wait > 0 {
                return Err(AppError::RateLimited(format!(
                    "验证码已发送，请 {wait} 秒后再试"
                )));
            }
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
            .push_sms(
                &mobile,
                "login_code",
                &sms::login_code(&self.cfg.sms_signature, &code),
            )
            .await?;
        Ok(())
    }

    /// Signs an applicant in with the code sent to `mobile`.
    pub async fn sign_in_with_code(&self, mobile: &str, code: &str) -> Result<SignedIn, AppError> {
        let mobile = validate::mobile(mobile).map_err(|m| AppError::field("mobile", m))?;
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
        if rec.expires_at <= now() {
            return Err(AppError::BadCredentials("验证码已过期，请重新获取".into()));
        }
        let given = code_hash(&mobile, code.trim());
        if !bool::from(given.as_bytes().ct_eq(rec.code_hash.as_bytes())) {
            return Err(AppError::BadCredentials("验证码不正确".into()));
        }
        self.store.delete_sms_code(&mobile).await?;
        let id = self.store.applicant_for_mobile(&mobile).await?;
        self.new_session(
            "applicant",
            id,
            Principal::Applicant { id },
            APPLICANT_SESSION,
        )
        .await
    }

    /// Signs an operator in. After [`OPERATOR_MAX_FAILURES`] wrong passwords in a row the name is refused for
    /// [`OPERATOR_LOCKOUT`] seconds (per instance), whatever password comes next.
    pub async fn sign_in_operator(&self, name: &str, password: &str) -> Result<SignedIn, AppError> {
        let bad = || AppError::BadCredentials("用户名或密码不正确".into());
        let key = name.trim().to_owned();
        if let Some(wait) = self.operator_locked(&key) {
            return Err(AppError::RateLimited(format!(
                "密码错误次数过多，请 {} 分钟后再试",
                (wait + 59) / 60
            )));
        }
        let op = match self.store.operator_by_name(name.trim()).await {
            Ok(op) => Some(op),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        };
        // Verify against some hash even for an unknown name, so the answer takes as long either way.
        let hash = match &op {
            Some(o) => o.password_hash.clone(),
            None => dummy_hash()?,
        };
        let pw = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(pw.as_bytes(), hash.as_str())
                .is_ok()
        })
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
        self.record_operator_attempt(&key, ok);
        match op {
            Some(op) if ok => {
                let p = Principal::Operator {
                    id: op.id,
                    name: op.name.clone(),
                    is_admin: op.is_admin,
                };
                self.new_session("operator", op.id, p, OPERATOR_SESSION)
                    .await
            }
            _ => Err(bad()),
        }
    }

    fn operator_locked(&self, name: &str) -> Option<i64> {
        let guard = self
            .login_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let &(failures, last) = guard.get(name)?;
        let wait = last + OPERATOR_LOCKOUT - now();
        (failures >= OPERATOR_MAX_FAILURES && wait > 0).then_some(wait)
    }

    fn record_operator_attempt(&self, name: &str, ok: bool) {
        let mut guard = self
            .login_failures
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if ok {
            guard.remove(name);
        } else {
            let e = guard.entry(name.to_owned()).or_insert((0, 0));
            // A lock-out that has run out starts the count afresh.
            if e.0 >= OPERATOR_MAX_FAILURES {
                *e = (0, 0);
            }
            *e = (e.0 + 1, now());
        }
    }

    async fn new_session(
        &self,
        kind: &str,
        subject_id: i64,
        principal: Principal,
        ttl: i64,
    ) -> Result<SignedIn, AppError> {
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let csrf = hex::encode(random_bytes::<16>());
        let expires_at = now() + ttl;
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
        let s = match self.store.session(&sm3_hex(token.as_bytes()), now()).await {
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
