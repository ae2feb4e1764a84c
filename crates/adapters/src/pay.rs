//! The sandbox payment gateway (demo mode only): a built-in cashier whose payment notification is signed and
//! verified exactly the way Alipay's is (sorted `k=v&…` string, signature in `sign`, `sign_type` beside it), with
//! SM2 instead of RSA2 and a key the platform holds only the public half of. Its platform side is a
//! [`PaymentProvider`] like the real Alipay and WeChat Pay adapters of `sealdesk-payments`, so a sandbox
//! notification takes the same path through the application as theirs; the form parsing and the signing string
//! are the Alipay adapter's own.

use base64::Engine;
use sealdesk_domain::Fen;
use sealdesk_payments::alipay::notify_signing_content;
use sealdesk_payments::{
    BoxFuture, Channel, Checkout, NotifyForm, NotifyReply, PayError, PayRequest, PaymentProvider,
    RefundRequest, RefundResult, Trade,
};
use sealdesk_pki::KeyPair;
use sm2::dsa::VerifyingKey;

/// A sandbox notification larger than this is refused unread.
const MAX_NOTIFY: usize = 8 * 1024;

/// The sandbox merchant's application id, as a real gateway assigns one per merchant app.
pub const SANDBOX_APP_ID: &str = "sealdesk-sandbox";

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
        let sig = self.key.sign(notify_signing_content(&params).as_bytes());
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
    /// Verifies a notification body; only one correctly signed for our app yields a [`Trade`].
    pub fn verify(&self, body: &[u8]) -> Result<Trade, PayError> {
        let form = NotifyForm::parse(body, MAX_NOTIFY)?;
        if form.get("sign_type")? != "SM2" {
            return Err(PayError::Malformed("sign_type must be SM2".into()));
        }
        let sig = base64::engine::general_purpose::STANDARD
            .decode(form.get("sign")?)
            .map_err(|_| PayError::Malformed("sign is not base64".into()))?;
        let content = notify_signing_content(form.params());
        if !sealdesk_pki::verify(&self.gateway_key, content.as_bytes(), &sig) {
            return Err(PayError::BadSignature);
        }
        let app = form.get("app_id")?;
        if app != self.app_id {
            return Err(PayError::ForeignApp(app.into()));
        }
        Ok(Trade {
            channel: Channel::Sandbox,
            out_trade_no: form.get("out_trade_no")?.to_owned(),
            gateway_txn: form.get("trade_no")?.to_owned(),
            amount: Fen::parse_yuan(form.get("total_amount")?)
                .ok_or_else(|| PayError::Malformed("total_amount".into()))?,
            app_id: app.to_owned(),
            status: sealdesk_payments::alipay::status(form.get("trade_status")?)?,
        })
    }
}

impl PaymentProvider for SandboxVerifier {
    fn channel(&self) -> Channel {
        Channel::Sandbox
    }

    fn app_id(&self) -> &str {
        &self.app_id
    }

    fn start<'a>(&'a self, req: &'a PayRequest) -> BoxFuture<'a, Result<Checkout, PayError>> {
        // The sandbox cashier is a page of the platform itself.
        Box::pin(async move {
            req.check()?;
            Ok(Checkout::Redirect(format!(
                "/sandbox/cashier/{}",
                req.out_trade_no
            )))
        })
    }

    fn verify_notification(
        &self,
        _headers: &[(String, String)],
        body: &[u8],
        _now_unix: i64,
    ) -> Result<Trade, PayError> {
        self.verify(body)
    }

    fn notification_reply(&self, accepted: bool) -> NotifyReply {
        sealdesk_payments::alipay::reply(accepted)
    }

    fn query<'a>(
        &'a self,
        _out_trade_no: &'a str,
    ) -> BoxFuture<'a, Result<Option<Trade>, PayError>> {
        // The sandbox keeps no ledger: its cashier notifies at once, there is nothing to reconcile.
        Box::pin(async { Ok(None) })
    }

    fn refund<'a>(
        &'a self,
        req: &'a RefundRequest,
    ) -> BoxFuture<'a, Result<RefundResult, PayError>> {
        Box::pin(async move {
            req.check()?;
            Ok(RefundResult {
                gateway_refund: format!("SBXR{}", req.out_refund_no),
                amount: req.refund,
                done: true,
            })
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
        let t = v.verify(body.as_bytes()).unwrap();
        assert_eq!(
            (t.out_trade_no.as_str(), t.amount, t.gateway_txn.as_str()),
            ("42", Fen(16_000), "SBX1")
        );
        assert_eq!(t.status, sealdesk_payments::TradeStatus::Paid);
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
            Err(PayError::ForeignApp("someone-else".into()))
        );
        let dup = format!("{body}&trade_status=TRADE_SUCCESS");
        assert!(matches!(
            v.verify(dup.as_bytes()),
            Err(PayError::Malformed(_))
        ));
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
