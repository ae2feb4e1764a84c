//! Shared fixtures: a platform (demo CA and seal maker), seals it makes for a given certificate, and SoftHSM2
//! tokens provisioned the way a CA would hand out a UKey (an EC P-256 key and its certificate).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sealdesk_adapters::keys::{Identity, demo_ca, seal_maker};
use sealdesk_pki::{Cert, CertSpec, PublicKey, Usage, issue_for};

/// Where SoftHSM2's PKCS#11 module is installed: Debian and Ubuntu first (`apt-get install softhsm2`, which
/// `scripts/test.sh` does), then the multiarch, Fedora and Homebrew places.
const MODULE_PLACES: &[&str] = &[
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
];

/// SoftHSM2's module: `SEALDESK_SOFTHSM2_MODULE` if set, else the first of [`MODULE_PLACES`] that exists. A
/// missing SoftHSM2 fails the test with the fix named rather than skipping it: these tests are the only proof
/// that the PKCS#11 backend works.
pub fn module() -> &'static str {
    static FOUND: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    FOUND.get_or_init(|| {
        if let Some(p) = std::env::var_os("SEALDESK_SOFTHSM2_MODULE") {
            return p.to_string_lossy().into_owned();
        }
        MODULE_PLACES
            .iter()
            .find(|p| Path::new(p).exists())
            .map(|p| (*p).to_owned())
            .unwrap_or_else(|| {
                panic!(
                    "SoftHSM2 is not installed (none of {MODULE_PLACES:?}): run `apt-get install softhsm2` \
                     (scripts/test.sh does), or set SEALDESK_SOFTHSM2_MODULE to its libsofthsm2"
                )
            })
    })
}
pub const SO_PIN: &str = "87654321";
pub const PIN: &str = "12345678";

/// An HTTP client for talking to the agent. Feature unification builds the workspace's reqwest with rustls but no
/// bundled provider, so the process installs one first, as every SealDesk process that makes clients does.
pub fn http_client() -> reqwest::Client {
    sealdesk_adapters::install_tls_provider();
    reqwest::Client::new()
}

/// The platform side: CA and maker keys in a temporary data directory.
pub struct Platform {
    pub dir: tempfile::TempDir,
    pub ca: Identity,
    pub maker: Identity,
}

impl Platform {
    pub fn new() -> Platform {
        let dir = tempfile::tempdir().unwrap();
        let ca = demo_ca(dir.path()).unwrap();
        let maker = seal_maker(dir.path(), &ca).unwrap();
        Platform { dir, ca, maker }
    }

    /// A V4 seal by this platform's maker, bound to `cert_der`; `tag` varies its content.
    pub fn seal(&self, es_id: &str, cert_der: &[u8], tag: &str) -> Vec<u8> {
        make_seal(&self.maker, es_id, cert_der, tag)
    }
}

pub fn make_seal(maker: &Identity, es_id: &str, cert_der: &[u8], tag: &str) -> Vec<u8> {
    let now = 1_790_000_000;
    let req = sealdesk_ses::SealRequest {
        es_id: es_id.into(),
        seal_type: 1,
        name: format!("北筑设计研究院有限公司合同专用章{tag}"),
        cert_list: sealdesk_ses::CertList::Certs(vec![cert_der.to_vec()]),
        create_date: now,
        valid_start: now,
        valid_end: now + 365 * 86_400,
        picture: sealdesk_ses::Picture {
            kind: "PNG".into(),
            data: [b"\x89PNG\r\n\x1a\n".as_slice(), tag.as_bytes()].concat(),
            width_mm: 40,
            height_mm: 40,
        },
        vid: "SealDesk".into(),
        ext_datas: Vec::new(),
    };
    sealdesk_ses::make_seal(&req, maker.cert.der(), maker.key.signing_key()).unwrap()
}

/// Writes a SoftHSM2 configuration whose token directory is inside `dir`; returns its path.
pub fn softhsm_conf(dir: &Path) -> PathBuf {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = dir.join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    conf
}

/// Runs test `name` of this test binary in a child process with its own SoftHSM2 (a PKCS#11 module keeps
/// its configuration per process, and tests may not change the environment of their own process). Returns
/// true in the child, where the caller then runs the body.
pub fn in_own_softhsm(name: &str) -> bool {
    if std::env::var_os("SEALDESK_SOFTHSM_CHILD").is_some() {
        return true;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = softhsm_conf(dir.path());
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("SOFTHSM2_CONF", &conf)
        .env("SEALDESK_SOFTHSM_CHILD", "1")
        .env("SEALDESK_TEST_DIR", dir.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "{name} failed in its own SoftHSM2:\n{text}"
    );
    assert!(
        text.contains("1 passed"),
        "{name} did not run in the child:\n{text}"
    );
    false
}

/// A freshly initialised token in the next free slot of `ctx`: label `label`, user PIN [`PIN`], an EC P-256
/// key pair made on the token, and a certificate for it from `ca` naming `subject`. Returns the token's serial
/// and the certificate.
pub fn provision(
    ctx: &cryptoki::context::Pkcs11,
    label: &str,
    ca: &Identity,
    subject: &str,
) -> (String, Cert) {
    use cryptoki::mechanism::Mechanism;
    use cryptoki::object::{Attribute, AttributeType, CertificateType, KeyType, ObjectClass};
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;

    let slot = ctx
        .get_all_slots()
        .unwrap()
        .into_iter()
        .find(|s| {
            ctx.get_token_info(*s)
                .map(|i| !i.token_initialized())
                .unwrap_or(false)
        })
        .expect("a free SoftHSM2 slot");
    ctx.init_token(slot, &AuthPin::new(SO_PIN.into()), label)
        .unwrap();
    let serial = ctx
        .get_token_info(slot)
        .unwrap()
        .serial_number()
        .trim()
        .to_owned();
    // init_token moves the token to a new slot id in SoftHSM2: find it again by serial.
    let slot = ctx
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().serial_number().trim() == serial)
        .unwrap();
    let s = ctx.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&AuthPin::new(SO_PIN.into())))
        .unwrap();
    s.init_pin(&AuthPin::new(PIN.into())).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&AuthPin::new(PIN.into())))
        .unwrap();
    let p256_oid = vec![0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    let id = vec![1u8];
    let (public, _private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::Private(false),
                Attribute::KeyType(KeyType::EC),
                Attribute::Verify(true),
                Attribute::EcParams(p256_oid),
                Attribute::Id(id.clone()),
            ],
            &[
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Sign(true),
                Attribute::Id(id.clone()),
            ],
        )
        .unwrap();
    let point = match s
        .get_attributes(public, &[AttributeType::EcPoint])
        .unwrap()
        .remove(0)
    {
        Attribute::EcPoint(p) => p,
        other => panic!("EC point expected, got {other:?}"),
    };
    // CKA_EC_POINT is the DER OCTET STRING around the 65-byte uncompressed point.
    let point = &point[point.len() - 65..];
    let key = PublicKey::p256_from_sec1(point).unwrap();
    let cert = issue_for(
        &CertSpec::new(subject, Usage::Signing, now() - 3600, 365 * 86_400),
        &key,
        &ca.key,
        &ca.cert,
    )
    .unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::CERTIFICATE),
        Attribute::CertificateType(CertificateType::X_509),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Id(id),
        Attribute::Label(b"sign".to_vec()),
        Attribute::Subject(cert.subject_der()),
        Attribute::Value(cert.der().to_vec()),
    ])
    .unwrap();
    s.logout().unwrap();
    (serial, cert)
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub fn pin(s: &str) -> sealdesk_agent::Pin {
    zeroize::Zeroizing::new(s.to_owned())
}

pub fn b64d(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).unwrap()
}
