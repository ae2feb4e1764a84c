//! A local SMTP relay that speaks the parts of RFC 5321 a submission client uses (EHLO, AUTH PLAIN/LOGIN, MAIL,
//! RCPT, DATA with dot-stuffing, RSET, QUIT), checks the credentials it was given, and keeps each message it
//! accepts. Recipients can be set to be refused for good (550) or for now (451), to test the sender's retries.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// One accepted message.
#[derive(Debug, Clone)]
pub struct Received {
    /// `MAIL FROM` address.
    pub from: String,
    /// `RCPT TO` addresses.
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-stuffing undone, CRLF line ends).
    pub data: String,
}

/// The fake relay.
#[derive(Default)]
pub struct SmtpFake {
    user: String,
    password: String,
    /// Accepted messages.
    pub received: Mutex<Vec<Received>>,
    /// Recipients answered 550 (refused for good).
    pub refuse: Mutex<HashSet<String>>,
    /// Recipients answered 451 (try again later).
    pub defer: Mutex<HashSet<String>>,
}

impl SmtpFake {
    /// A relay that wants `user` / `password`.
    pub fn new(user: &str, password: &str) -> Arc<SmtpFake> {
        Arc::new(SmtpFake {
            user: user.into(),
            password: password.into(),
            ..SmtpFake::default()
        })
    }

    /// Listens on an ephemeral 127.0.0.1 port; returns the port.
    pub async fn start(self: &Arc<Self>) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let me = self.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let me = me.clone();
                tokio::spawn(async move {
                    let _ = me.session(sock).await;
                });
            }
        });
        port
    }

    fn plain_ok(&self, b64: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return false;
        };
        let parts: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
        parts.len() == 3 && parts[1] == self.user.as_bytes() && parts[2] == self.password.as_bytes()
    }

    async fn session(&self, sock: tokio::net::TcpStream) -> std::io::Result<()> {
        let (r, mut w) = sock.into_split();
        let mut r = BufReader::new(r);
        w.write_all(b"220 fake.smtp ESMTP ready\r\n").await?;
        let (mut authed, mut from, mut to) = (false, String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if r.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let cmd = line.trim_end().to_owned();
            let upper = cmd.to_ascii_uppercase();
            let addr = |s: &str| {
                s.split_once('<')
                    .and_then(|(_, t)| t.split_once('>'))
                    .map(|(a, _)| a.to_owned())
                    .unwrap_or_default()
            };
            let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                "250-fake.smtp\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".into()
            } else if upper.starts_with("AUTH PLAIN") {
                let initial = cmd.get(10..).unwrap_or("").trim().to_owned();
                let b64 = if initial.is_empty() {
                    w.write_all(b"334 \r\n").await?;
                    let mut resp = String::new();
                    r.read_line(&mut resp).await?;
                    resp
                } else {
                    initial
                };
                authed = self.plain_ok(&b64);
                if authed {
                    "235 2.7.0 accepted\r\n".into()
                } else {
                    "535 5.7.8 bad credentials\r\n".into()
                }
            } else if upper.starts_with("AUTH LOGIN") {
                let b64 = base64::engine::general_purpose::STANDARD;
                w.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                let mut u = String::new();
                r.read_line(&mut u).await?;
                w.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                let mut p = String::new();
                r.read_line(&mut p).await?;
                authed = b64.decode(u.trim()).ok().as_deref() == Some(self.user.as_bytes())
                    && b64.decode(p.trim()).ok().as_deref() == Some(self.password.as_bytes());
                if authed {
                    "235 2.7.0 accepted\r\n".into()
                } else {
                    "535 5.7.8 bad credentials\r\n".into()
                }
            } else if upper.starts_with("MAIL FROM:") {
                if !authed {
                    "530 5.7.0 authentication required\r\n".into()
                } else {
                    from = addr(&cmd);
                    to.clear();
                    "250 2.1.0 ok\r\n".into()
                }
            } else if upper.starts_with("RCPT TO:") {
                let a = addr(&cmd);
                if self.refuse.lock().unwrap().contains(&a) {
                    "550 5.1.1 no such user\r\n".into()
                } else if self.defer.lock().unwrap().contains(&a) {
                    "451 4.3.0 try again later\r\n".into()
                } else {
                    to.push(a);
                    "250 2.1.5 ok\r\n".into()
                }
            } else if upper == "DATA" {
                if to.is_empty() {
                    "554 5.5.1 no valid recipients\r\n".into()
                } else {
                    w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                    let mut data = String::new();
                    loop {
                        let mut l = String::new();
                        if r.read_line(&mut l).await? == 0 {
                            return Ok(());
                        }
                        if l == ".\r\n" || l == ".\n" {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    self.received.lock().unwrap().push(Received {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data,
                    });
                    "250 2.0.0 queued\r\n".into()
                }
            } else if upper == "RSET" {
                to.clear();
                "250 2.0.0 ok\r\n".into()
            } else if upper == "NOOP" {
                "250 2.0.0 ok\r\n".into()
            } else if upper == "QUIT" {
                w.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            } else {
                "502 5.5.2 command not recognised\r\n".into()
            };
            w.write_all(reply.as_bytes()).await?;
        }
    }
}

/// The decoded body of the first MIME part of `data` whose `Content-Type` starts with `mime` (base64 parts only).
pub fn part(data: &str, mime: &str) -> Option<Vec<u8>> {
    let at = data.find(&format!("Content-Type: {mime}"))?;
    let rest = &data[at..];
    let body_start = rest.find("\r\n\r\n")? + 4;
    let body: String = rest[body_start..]
        .lines()
        .take_while(|l| !l.starts_with("--"))
        .collect::<Vec<_>>()
        .concat();
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .ok()
}
