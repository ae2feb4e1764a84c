//! The SMTP mailer against the local relay of the testkit: sign-in, the envelope, a UTF-8 subject and an attached
//! PDF that arrives byte for byte; refusals and deferrals classified for the sender's retries.

use sealdesk_payments::mail::{MailError, Mailer, OutgoingMail, SmtpConfig, SmtpMailer};
use sealdesk_payments::testkit::smtp::{SmtpFake, part};

fn config(port: u16, password: &str) -> SmtpConfig {
    let vars = [
        ("SEALDESK_SMTP_HOST", "127.0.0.1".to_owned()),
        ("SEALDESK_SMTP_PORT", port.to_string()),
        ("SEALDESK_SMTP_SECURITY", "none".to_owned()),
        ("SEALDESK_SMTP_USER", "invoice@seal.example.com".to_owned()),
        ("SEALDESK_SMTP_PASSWORD", password.to_owned()),
        (
            "SEALDESK_MAIL_FROM",
            "电子印章平台 <invoice@seal.example.com>".to_owned(),
        ),
    ];
    let get = |n: &str| vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone());
    SmtpConfig::from_lookup(&get).unwrap().unwrap()
}

fn mail(to: &str, pdf: &[u8]) -> OutgoingMail {
    OutgoingMail {
        to: to.into(),
        subject: "电子发票 20261130000000000001（订单 KG-20261130-0001）".into(),
        text: "您好：\n\n您的电子发票见附件。\n".into(),
        attachment: Some((
            "电子发票-20261130000000000001.pdf".into(),
            "application/pdf".into(),
            pdf.to_vec(),
        )),
    }
}

#[tokio::test]
async fn sends_the_invoice_pdf_through_an_authenticated_relay() {
    let fake = SmtpFake::new("invoice@seal.example.com", "s3cret");
    let port = fake.start().await;
    let mailer = SmtpMailer::new(&config(port, "s3cret")).unwrap();
    // Bytes that a 7-bit transport would break: every byte value, after a PDF header.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend(0u8..=255);
    mailer.send(&mail("buyer@example.com", &pdf)).await.unwrap();

    let got = fake.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "invoice@seal.example.com");
    assert_eq!(got[0].to, ["buyer@example.com"]);
    assert!(
        got[0].data.contains("To: buyer@example.com"),
        "{}",
        got[0].data
    );
    assert_eq!(
        part(&got[0].data, "application/pdf").as_deref(),
        Some(pdf.as_slice())
    );
    let subject = got[0]
        .data
        .lines()
        .find(|l| l.starts_with("Subject: "))
        .unwrap();
    assert!(subject.starts_with("Subject: =?utf-8?"), "{subject}");
}

#[tokio::test]
async fn wrong_password_refused_recipient_and_deferral_are_told_apart() {
    let fake = SmtpFake::new("invoice@seal.example.com", "s3cret");
    let port = fake.start().await;
    fake.refuse
        .lock()
        .unwrap()
        .insert("gone@example.com".into());
    fake.defer.lock().unwrap().insert("busy@example.com".into());

    let wrong = SmtpMailer::new(&config(port, "not-it")).unwrap();
    let e = wrong
        .send(&mail("buyer@example.com", b"%PDF"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MailError::Refused(ref m) if m.contains("535")),
        "{e:?}"
    );

    let mailer = SmtpMailer::new(&config(port, "s3cret")).unwrap();
    let e = mailer
        .send(&mail("gone@example.com", b"%PDF"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MailError::Refused(ref m) if m.contains("550")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let e = mailer
        .send(&mail("busy@example.com", b"%PDF"))
        .await
        .unwrap_err();
    assert!(
        matches!(e, MailError::Unavailable(ref m) if m.contains("451")),
        "{e:?}"
    );
    assert!(e.is_retryable());
    let e = mailer
        .send(&mail("not an address", b"%PDF"))
        .await
        .unwrap_err();
    assert!(matches!(e, MailError::Invalid(_)), "{e:?}");
    assert!(fake.received.lock().unwrap().is_empty());
}

#[test]
fn settings_are_checked() {
    let get = |vars: &'static [(&'static str, &'static str)]| {
        move |n: &str| {
            vars.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    assert!(SmtpConfig::from_lookup(&get(&[])).unwrap().is_none());
    let e = SmtpConfig::from_lookup(&get(&[
        ("SEALDESK_SMTP_HOST", "smtp.example.com"),
        ("SEALDESK_SMTP_SECURITY", "none"),
        ("SEALDESK_MAIL_FROM", "a@b.cn"),
    ]))
    .unwrap_err();
    assert_eq!(
        e,
        "SEALDESK_SMTP_SECURITY=none is allowed only for a relay on 127.0.0.1"
    );
    let e =
        SmtpConfig::from_lookup(&get(&[("SEALDESK_SMTP_HOST", "smtp.example.com")])).unwrap_err();
    assert_eq!(e, "SEALDESK_MAIL_FROM is required with SEALDESK_SMTP_HOST");
    let c = SmtpConfig::from_lookup(&get(&[
        ("SEALDESK_SMTP_HOST", "smtp.example.com"),
        ("SEALDESK_MAIL_FROM", "a@b.cn"),
    ]))
    .unwrap()
    .unwrap();
    assert_eq!(
        (c.port, c.security),
        (465, sealdesk_payments::mail::SmtpSecurity::Tls)
    );
}
