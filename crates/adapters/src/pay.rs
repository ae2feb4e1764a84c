//! Payment gateways. For now the sandbox: a built-in cashier whose payment notification is signed and verified
//! exactly the way Alipay's is (sorted `k=v&…` string, signature in `sign`, `sign_type` beside it), with SM2
//! instead of RSA2 and a key the platform holds only the public half of. The real Alipay and WeChat Pay adapters
//! (a later issue) fit the same [`PaidNotice`] shape.

use base64::Engine;
use sealdesk_domain::Fen;
use sealdesk_pki::KeyPair;
use sm2::dsa::VerifyingKey;

/// A verified "this payment succeeded" from a gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidNotice {
    /// Our payment id (the merchant order number, `out_trade_no`).
    pub payment_id: i64,
    /// The amount the gateway says was paid.
    pub amount: Fen,
    /// The gateway's transaction number (`trade_no`).
    pub gateway_txn: String,
}

/// Why a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayError {
    /// The body is not a well-formed notification.
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// The signature does not verify with the gateway's key.
    #[error("bad signature")]
    BadSignature,
    /// The notification reports something other than success.
    #[error("trade status {0}")]
    NotSuccess(String),
    /// The notification is for another merchant application than ours.
    #[error("app_id {0} is not ours")]
    WrongApp(String),
}

/// The sandbox merchant's application id, as a real gateway assigns one per merchant app.
pub const SANDBOX_APP_ID: &str = "sealdesk-sandbox";

/// The string both sides sign: parameters other than `sign`/`sign_type`, with values, sorted by key, as
/// `k=v` joined by `&`, values not URL-encoded (Alipay's rule).
pub fn signing_string(params: &[(String, String)]) -> String {
    let mut p: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| k != "sign" && k != "sign_type" && !v.is_empty())
        .collect();
    p.sort();
    p.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The sandbox gateway's side: it signs notifications.
pub struct SandboxGateway {
    key: KeyPair,
    app_id: String,
}

impl SandboxGateway {
    /// The gateway with its private key, notifying for [`SANDBOX_APP_ID`].
    pub fn new(key: KeyPair) -> Self {
        SandboxGateway {
            key,
            app_id: SANDBOX_APP_ID.into(),
        }
    }

    /// The same gateway notifying for another merchant application (a test of the app id check).
    pub fn for_app(key: KeyPair, app_id: &str) -> Self {
        SandboxGateway {
            key,
            app_id: app_id.into(),
        }
    }

    /// The verifier the platform configures for this gateway (public key only), expecting [`SANDBOX_APP_ID`].
    pub fn verifier(&self) -> SandboxVerifier {
        SandboxVerifier {
            gateway_key: self.key.public().clone(),
            app_id: SANDBOX_APP_ID.into(),
        }
    }

    /// The body of a successful-payment notification, form-encoded, as the gateway would POST it.
    pub fn notify_body(
        &self,
        payment_id: i64,
        amount: Fen,
        gateway_txn: &str,
        notify_time: &str,
    ) -> String {
        let mut params = vec![
            ("out_trade_no".to_owned(), payment_id.to_string()),
            ("trade_no".to_owned(), gateway_txn.to_owned()),
            ("total_amount".to_owned(), amount.yuan_string()),
            ("trade_status".to_owned(), "TRADE_SUCCESS".to_owned()),
            ("notify_time".to_owned(), notify_time.to_owned()),
            ("app_id".to_owned(), self.app_id.clone()),
        ];
        let sig = self.key.sign(signing_string(&params).as_bytes());
        params.push(("sign_type".into(), "SM2".into()));
        params.push((
            "sign".into(),
            base64::engine::general_purpose::STANDARD.encode(sig),
        ));
        form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish()
    }
}

/// The platform's side: verifies sandbox notifications with the gateway's public key.
#[derive(Debug, Clone)]
pub struct SandboxVerifier {
    gateway_key: VerifyingKey,
    app_id: String,
}

impl SandboxVerifier {
    /// Verifies a notification body; only a correctly signed TRADE_SUCCESS yields a [`PaidNotice`].
    pub fn verify(&self, body: &[u8]) -> Result<PaidNotice, PayError> {
        if body.len() > 8 * 1024 {
            return Err(PayError::Malformed("body too large".into()));
        }
        let params: Vec<(String, String)> = form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        // A repeated key could mean one thing to the signature and another to us: refuse it outright.
        let mut keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort_unstable();
        if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
            return Err(PayError::Malformed(format!("repeated {}", w[0])));
        }
        let get = |k: &str| -> Result<&str, PayError> {
            params
                .iter()
                .find(|(pk, _)| pk == k)
                .map(|(_, v)| v.as_str())
                .ok_or_else(|| PayError::Malformed(format!("missing {k}")))
        };
        if get("sign_type")? != "SM2" {
            return Err(PayError::Malformed("sign_type must be SM2".into()));
        }
        let sig = base64::engine::general_purpose::STANDARD
            .decode(get("sign")?)
            .map_err(|_| PayError::Malformed("sign is not base64".into()))?;
        if !sealdesk_pki::verify(&self.gateway_key, signing_string(&params).as_bytes(), &sig) {
            return Err(PayError::BadSignature);
        }
        let app = get("app_id")?;
        if app != self.app_id {
            return Err(PayError::WrongApp(app.into()));
        }
        let status = get("trade_status")?;
        if status != "TRADE_SUCCESS" {
            return Err(PayError::NotSuccess(status.into()));
        }
        Ok(PaidNotice {
            payment_id: get("out_trade_no")?
                .parse()
                .map_err(|_| PayError::Malformed("out_trade_no".into()))?,
            amount: Fen::parse_yuan(get("total_amount")?)
                .ok_or_else(|| PayError::Malformed("total_amount".into()))?,
            gateway_txn: get("trade_no")?.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_notifications_verify_and_any_change_is_refused() {
        let gw = SandboxGateway::new(KeyPair::generate().unwrap());
        let v = gw.verifier();
        let body = gw.notify_body(42, Fen(16_000), "SBX1", "2026-11-27 10:00:00");
        assert_eq!(
            v.verify(body.as_bytes()),
            Ok(PaidNotice {
                payment_id: 42,
                amount: Fen(16_000),
                gateway_txn: "SBX1".into()
            })
        );
        let forged = body.replace("total_amount=160.00", "total_amount=0.01");
        assert_eq!(v.verify(forged.as_bytes()), Err(PayError::BadSignature));
        let other = SandboxGateway::new(KeyPair::generate().unwrap());
        assert_eq!(
            v.verify(other.notify_body(42, Fen(16_000), "SBX1", "t").as_bytes()),
            Err(PayError::BadSignature)
        );
        assert!(matches!(
            v.verify(b"out_trade_no=1"),
            Err(PayError::Malformed(_))
        ));
        assert!(matches!(
            v.verify(&[0xff, 0xfe, b'=']),
            Err(PayError::Malformed(_))
        ));
        // Signed by the right key, but for another merchant application: refused.
        let gw_key = KeyPair::from_pkcs8_pem(&gw.key.to_pkcs8_pem().unwrap()).unwrap();
        let elsewhere = SandboxGateway::for_app(gw_key, "someone-else");
        assert_eq!(
            v.verify(
                elsewhere
                    .notify_body(42, Fen(16_000), "SBX1", "t")
                    .as_bytes()
            ),
            Err(PayError::WrongApp("someone-else".into()))
        );
        let dup = format!("{body}&trade_status=TRADE_SUCCESS");
        assert!(matches!(
            v.verify(dup.as_bytes()),
            Err(PayError::Malformed(_))
        ));
    }

    #[test]
    fn the_signing_string_follows_the_alipay_rule() {
        let p = vec![
            ("b".into(), "2".into()),
            ("a".into(), "1".into()),
            ("sign".into(), "x".into()),
            ("c".into(), String::new()),
        ];
        assert_eq!(signing_string(&p), "a=1&b=2");
    }
}

#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// A gateway callback body is untrusted: any bytes are refused cleanly, never accepted, never a panic.
        #[test]
        fn notifications_from_nowhere_are_refused(body in proptest::collection::vec(any::<u8>(), 0..2000),
                                                 form in "([a-z_]{1,12}=[A-Za-z0-9%+/=.]{0,20}&){0,8}") {
            let v = SandboxGateway::new(KeyPair::generate().unwrap()).verifier();
            prop_assert!(v.verify(&body).is_err());
            prop_assert!(v.verify(form.as_bytes()).is_err());
        }
    }
}
