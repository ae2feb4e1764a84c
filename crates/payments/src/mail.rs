//! E-mail: the invoice PDF to the buyer's address, through an SMTP relay (`lettre`). Implicit TLS (SMTPS, port
//! 465) or STARTTLS (587) with certificates checked against the web PKI roots; an unencrypted connection only to
//! a relay on the loopback interface (a local MTA, the tests' fake).

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use zeroize::Zeroizing;

use crate::{BoxFuture, Lookup};

/// One e-mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMail {
    /// The recipient's address.
    pub to: String,
    /// Subject (UTF-8; encoded as the RFC 2047 rules require).
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// An attached file: (file name, MIME type, bytes).
    pub attachment: Option<(String, String, Vec<u8>)>,
}

/// Why an e-mail did not leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// The message cannot be sent as it is (bad address); trying again will not help.
    #[error("邮件无法发送：{0}")]
    Invalid(String),
    /// The relay refused it for good (5xx).
    #[error("邮件服务器拒收：{0}")]
    Refused(String),
    /// The relay could not be reached, or answered 4xx: worth trying again.
    #[error("邮件服务器暂不可用：{0}")]
    Unavailable(String),
}

impl MailError {
    /// Whether trying again later may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, MailError::Unavailable(_))
    }
}

/// Something that sends e-mail.
pub trait Mailer: Send + Sync {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// Sends one e-mail.
    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> BoxFuture<'a, Result<(), MailError>>;
}

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// TLS from the first byte (SMTPS).
    Tls,
    /// Plain, then STARTTLS before anything is sent; refused if the relay cannot.
    StartTls,
    /// No encryption: loopback relays only.
    None,
}

/// SMTP settings, from `SEALDESK_SMTP_*`.
#[derive(Clone)]
pub struct SmtpConfig {
    /// Relay host name.
    pub host: String,
    /// Port (465 for TLS, 587 for STARTTLS by default).
    pub port: u16,
    /// Connection protection.
    pub security: SmtpSecurity,
    /// Sign-in name and password, if the relay wants them.
    pub credentials: Option<(String, Zeroizing<String>)>,
    /// The From address (`电子印章平台 <invoice@example.com>` or a bare address).
    pub from: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.credentials.as_ref().map(|c| &c.0))
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpConfig {
    /// Reads `SEALDESK_SMTP_HOST`, `_PORT`, `_SECURITY` (`tls`, `starttls` or `none`), `_USER`,
    /// `_PASSWORD` (or `_PASSWORD_FILE`) and `SEALDESK_MAIL_FROM`. `Ok(None)` when no host is set.
    pub fn from_lookup(get: Lookup<'_>) -> Result<Option<SmtpConfig>, String> {
        let Some(host) = get("SEALDESK_SMTP_HOST").filter(|h| !h.trim().is_empty()) else {
            return Ok(None);
        };
        let security = match get("SEALDESK_SMTP_SECURITY").as_deref().unwrap_or("tls") {
            "tls" => SmtpSecurity::Tls,
            "starttls" => SmtpSecurity::StartTls,
            "none" => SmtpSecurity::None,
            other => {
                return Err(format!(
                    "SEALDESK_SMTP_SECURITY={other}: use tls, starttls or none"
                ));
            }
        };
        let port = match get("SEALDESK_SMTP_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("SEALDESK_SMTP_PORT={p}: not a port number"))?,
            None if security == SmtpSecurity::Tls => 465,
            None => 587,
        };
        if security == SmtpSecurity::None
            && !matches!(host.as_str(), "127.0.0.1" | "localhost" | "::1")
        {
            return Err(
                "SEALDESK_SMTP_SECURITY=none is allowed only for a relay on 127.0.0.1".into(),
            );
        }
        let password = match get("SEALDESK_SMTP_PASSWORD") {
            Some(p) => Some(p),
            None => get("SEALDESK_SMTP_PASSWORD_FILE")
                .map(|f| {
                    std::fs::read_to_string(&f)
                        .map(|s| s.trim_end().to_owned())
                        .map_err(|e| format!("SEALDESK_SMTP_PASSWORD_FILE {f}: {e}"))
                })
                .transpose()?,
        };
        let credentials = match (get("SEALDESK_SMTP_USER"), password) {
            (Some(u), Some(p)) => Some((u, Zeroizing::new(p))),
            (None, None) => None,
            _ => return Err("SEALDESK_SMTP_USER and SEALDESK_SMTP_PASSWORD go together".into()),
        };
        let from = get("SEALDESK_MAIL_FROM")
            .ok_or("SEALDESK_MAIL_FROM is required with SEALDESK_SMTP_HOST")?;
        from.parse::<Mailbox>()
            .map_err(|e| format!("SEALDESK_MAIL_FROM={from}: {e}"))?;
        Ok(Some(SmtpConfig {
            host,
            port,
            security,
            credentials,
            from,
        }))
    }
}

/// The SMTP mailer.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from)
            .finish()
    }
}

impl SmtpMailer {
    /// A mailer for the relay `cfg` names (no connection is made until the first e-mail).
    pub fn new(cfg: &SmtpConfig) -> Result<SmtpMailer, String> {
        let builder = match cfg.security {
            SmtpSecurity::Tls => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&cfg.host).map_err(|e| e.to_string())?
            }
            SmtpSecurity::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&cfg.host)
                    .map_err(|e| e.to_string())?
            }
            SmtpSecurity::None => {
                AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&cfg.host)
            }
        };
        let mut builder = builder
            .port(cfg.port)
            .timeout(Some(Duration::from_secs(20)));
        if let Some((user, password)) = &cfg.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.to_string()));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from: cfg.from.parse().map_err(|e| format!("{e}"))?,
        })
    }

    fn message(&self, mail: &OutgoingMail) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Invalid(format!("收件地址 {}：{e}", mail.to)))?;
        let text = SinglePart::plain(mail.text.clone());
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone());
        let built = match &mail.attachment {
            Some((name, mime, bytes)) => {
                let ct = ContentType::parse(mime)
                    .map_err(|e| MailError::Invalid(format!("附件类型 {mime}：{e}")))?;
                builder.multipart(
                    MultiPart::mixed()
                        .singlepart(text)
                        .singlepart(Attachment::new(name.clone()).body(bytes.clone(), ct)),
                )
            }
            None => builder.singlepart(text),
        };
        built.map_err(|e| MailError::Invalid(e.to_string()))
    }
}

impl Mailer for SmtpMailer {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(&'a self, mail: &'a OutgoingMail) -> BoxFuture<'a, Result<(), MailError>> {
        Box::pin(async move {
            let msg = self.message(mail)?;
            match self.transport.send(msg).await {
                Ok(_) => Ok(()),
                Err(e) if e.is_permanent() => Err(MailError::Refused(e.to_string())),
                Err(e) => Err(MailError::Unavailable(e.to_string())),
            }
        })
    }
}
