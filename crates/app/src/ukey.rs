//! The certificate UKey as the platform sees it: the checks every holder certificate passes (at 授权 and at
//! sign-in), who a certificate names (`enterprise:<统一社会信用代码>` / `person:<身份证号码>`), and UKey
//! sign-in: a one-time challenge the key signs through the agent, verified against the trusted CAs, signing
//! in to the applicant account that bound a key of the same holder at 授权.

use sealdesk_domain::{Timestamp, validate};

use crate::{App, AppError, Principal, SignedIn};

/// How long a sign-in challenge may be answered, seconds.
const SIGN_IN_CHALLENGE_TTL: i64 = 300;
/// Sign-in challenges one client address may ask for in an hour.
pub const CERT_CHALLENGES_PER_ADDRESS_HOUR: i64 = 60;

/// A fresh UKey sign-in challenge: the key signs [`SignInChallenge::text`] (its UTF-8 bytes).
#[derive(Debug, Clone)]
pub struct SignInChallenge {
    /// The nonce, echoed with the answer.
    pub nonce: String,
    /// What the key signs.
    pub text: String,
    /// Unix seconds.
    pub expires_at: i64,
}

fn sign_in_text(nonce: &str, expires_at: i64) -> String {
    // Printable ASCII on one line: the UKey agent signs nothing else.
    format!("SealDesk sign-in nonce={nonce} expires={expires_at}")
}

/// Whom a certificate names, as sign-in keys it: its 统一社会信用代码 (`enterprise:…`) or, failing that, its
/// 身份证号码 (`person:…`), whichever subject value is a valid one (the soft token and CAs put it in
/// `serialNumber`).
pub fn cert_holder_key(cert: &sealdesk_pki::Cert, today: u32) -> Option<String> {
    let values = cert.subject_values();
    values
        .iter()
        .find_map(|v| validate::credit_code(v.trim()).ok())
        .map(|c| format!("enterprise:{c}"))
        .or_else(|| {
            values
                .iter()
                .find_map(|v| validate::id_number(v.trim(), today).ok())
                .map(|i| format!("person:{}", i.to_uppercase()))
        })
}

/// The serial (hex) and validity (Unix seconds) of the certificate an order's key was bound with, for the seed's
/// UKEY信息; `None` if it cannot be read.
pub fn bound_certificate(key: &sealdesk_domain::KeyBinding) -> Option<(String, i64, i64)> {
    let der = hex::decode(&key.cert_der_hex).ok()?;
    let cert = sealdesk_pki::Cert::from_der(&der).ok()?;
    let (not_before, not_after) = cert.validity();
    Some((cert.serial_hex(), not_before, not_after))
}

impl App {
    /// A holder certificate as read from a UKey: a trusted CA issued it, it is valid now, it is an
    /// end-entity signing certificate with an SM2 or ECDSA P-256 key. Each refusal says what to do.
    pub(crate) fn holder_cert(&self, cert_der: &[u8]) -> Result<sealdesk_pki::Cert, AppError> {
        let cert = sealdesk_pki::Cert::from_der(cert_der).map_err(|_| {
            AppError::field("cert", "读取到的证书无法解析，请确认插入的是数字证书 UKey")
        })?;
        cert.key().map_err(|_| {
            AppError::field(
                "cert",
                "证书的密钥不是 SM2 或 ECDSA P-256 密钥，不能用于电子印章",
            )
        })?;
        if !self.trust.iter().any(|ca| cert.verify_issued_by(ca)) {
            return Err(AppError::field(
                "cert",
                "证书不是受信任的 CA 签发的，请使用已领取的数字证书 UKey",
            ));
        }
        let (nb, na) = cert.validity();
        let t = self.now();
        if t < nb || t > na {
            return Err(AppError::field(
                "cert",
                "证书不在有效期内，请先办理证书续期",
            ));
        }
        if cert.is_ca() {
            return Err(AppError::field(
                "cert",
                "这是 CA 证书，不是证书锁的签名证书",
            ));
        }
        if !cert.allows_digital_signature() {
            return Err(AppError::field(
                "cert",
                "证书的密钥用法不含数字签名（digitalSignature），不能用于电子印章",
            ));
        }
        Ok(cert)
    }

    /// A fresh one-time challenge for UKey sign-in (证书登录), at most
    /// [`CERT_CHALLENGES_PER_ADDRESS_HOUR`] an hour per client address.
    pub async fn sign_in_challenge(&self, ip: &str) -> Result<SignInChallenge, AppError> {
        let hour = self.now().div_euclid(3600);
        if self
            .store
            .bump_counter("cert_challenge_ip_hour", ip, hour)
            .await?
            > CERT_CHALLENGES_PER_ADDRESS_HOUR
        {
            return Err(AppError::RateLimited(
                "证书登录请求过于频繁，请一小时后再试".into(),
            ));
        }
        let nonce = hex::encode(sealdesk_adapters::random_bytes::<16>());
        let expires_at = self.now() + SIGN_IN_CHALLENGE_TTL;
        self.store
            .put_sign_in_challenge(&nonce, expires_at, self.now())
            .await?;
        Ok(SignInChallenge {
            text: sign_in_text(&nonce, expires_at),
            nonce,
            expires_at,
        })
    }

    /// 证书登录: the key's certificate (checked as at 授权) and its signature over a live sign-in challenge.
    /// The session belongs to the applicant account that bound a key of this certificate's holder (same
    /// 统一社会信用代码 or 身份证号码) at 授权; a holder never bound here is told to sign in by SMS first.
    pub async fn sign_in_with_cert(
        &self,
        cert_der: &[u8],
        nonce: &str,
        signature: &[u8],
        ip: &str,
    ) -> Result<SignedIn, AppError> {
        let refused = |m: &str| AppError::BadCredentials(m.into());
        let cert = self.holder_cert(cert_der).map_err(|e| match e {
            AppError::Invalid(f) => AppError::BadCredentials(f[0].message.clone()),
            other => other,
        })?;
        let expires_at = match self.store.take_sign_in_challenge(nonce.trim()).await {
            Ok(e) => e,
            Err(sealdesk_store::StoreError::NotFound) => {
                return Err(refused("登录挑战已失效，请刷新页面后重新登录"));
            }
            Err(e) => return Err(e.into()),
        };
        if expires_at < self.now() {
            return Err(refused("登录挑战已过期，请刷新页面后重新登录"));
        }
        let holder = cert_holder_key(&cert, Timestamp(self.now()).beijing_yyyymmdd());
        let actor = format!("cert:{}", cert.serial_hex());
        if !cert.verify_signature(sign_in_text(nonce.trim(), expires_at).as_bytes(), signature) {
            self.audit_event(
                &actor,
                ip,
                "sign_in_failed",
                serde_json::json!({"method": "ukey", "why": "signature", "holder": holder}),
            )
            .await?;
            return Err(refused(
                "证书锁签名验证失败：签名不是该证书的私钥对本次登录挑战的签名",
            ));
        }
        let holder = holder
            .ok_or_else(|| refused("证书中没有统一社会信用代码或身份证号码，不能用于证书登录"))?;
        let Some(id) = self.store.cert_holder_applicant(&holder).await? else {
            self.audit_event(
                &actor,
                ip,
                "sign_in_failed",
                serde_json::json!({"method": "ukey", "why": "unknown holder", "holder": holder}),
            )
            .await?;
            return Err(refused(
                "该证书尚未在本平台办理过电子印章，请先用手机验证码登录并完成授权",
            ));
        };
        let p = Principal::Applicant { id };
        self.audit_event(
            &p.audit_name(),
            ip,
            "sign_in",
            serde_json::json!({"method": "ukey", "holder": holder, "cert_serial": cert.serial_hex(), "subject": cert.subject()}),
        )
        .await?;
        self.new_session("applicant", id, p, crate::auth::APPLICANT_SESSION)
            .await
    }
}
