//! The agent against a real PKCS#11 token: SoftHSM2, initialised by each test in its own directory, with an
//! ECDSA P-256 key and its certificate from the platform's CA on it.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use sealdesk_agent::pkcs11::Pkcs11Backend;
use sealdesk_agent::{Agent, AgentError, Backend};

const SUBJECT: &str = "C=CN,O=北筑设计研究院有限公司,CN=北筑设计研究院有限公司";

struct Rig {
    platform: Platform,
    backend: Arc<Pkcs11Backend>,
    agent: Agent,
    serial: String,
    cert: sealdesk_pki::Cert,
}

fn rig() -> Rig {
    let platform = Platform::new();
    let backend = Pkcs11Backend::open(std::path::Path::new(module())).unwrap();
    let ctx = cryptoki::context::Pkcs11::new(module()).unwrap();
    // The same module, already initialised by the backend: provisioning shares the process-wide state.
    let _ = ctx.initialize(cryptoki::context::CInitializeArgs::new(
        cryptoki::context::CInitializeFlags::OS_LOCKING_OK,
    ));
    let (serial, cert) = provision(&ctx, "UKEY-TEST", &platform.ca, SUBJECT);
    let backend = Arc::new(backend);
    let agent = Agent::new(backend.clone(), vec![platform.maker.cert.clone()]);
    Rig {
        platform,
        backend,
        agent,
        serial,
        cert,
    }
}

fn ids(r: &Rig) -> Vec<(String, Vec<u8>)> {
    r.backend
        .seals(&r.serial)
        .unwrap()
        .into_iter()
        .map(|s| (s.es_id, s.der))
        .collect()
}

#[test]
fn keys_pin_counter_lock_out_and_challenge_signatures_on_softhsm() {
    if !in_own_softhsm("keys_pin_counter_lock_out_and_challenge_signatures_on_softhsm") {
        return;
    }
    let r = rig();
    let keys = r.agent.keys().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k.serial, r.serial);
    assert_eq!(k.label, "UKEY-TEST");
    assert_eq!(k.holder_label, Some("企业锁"));
    let c = k.cert.as_ref().unwrap();
    assert!(
        c.subject.contains("北筑设计研究院有限公司"),
        "{}",
        c.subject
    );
    assert!(c.issuer.contains("SealDesk 演示 CA"), "{}", c.issuer);
    assert_eq!(c.algorithm, "ECDSA P-256");
    assert_eq!(c.serial, r.cert.serial_hex());
    assert_eq!(k.pin.tries_left, 6);

    // A challenge signed on the token verifies with the certificate the platform sees.
    let challenge = "sealdesk-authorize:order-42:9f8e7d6c5b4a";
    let signed = r
        .agent
        .sign_challenge(&r.serial, &pin(PIN), challenge)
        .unwrap();
    assert_eq!(signed.algorithm, "ECDSA P-256");
    let cert = sealdesk_pki::Cert::from_der(&b64d(&signed.cert)).unwrap();
    assert!(cert.verify_issued_by(&r.platform.ca.cert));
    assert!(cert.verify_signature(challenge.as_bytes(), &b64d(&signed.signature)));
    assert!(!cert.verify_signature(b"sealdesk-authorize:order-43", &b64d(&signed.signature)));
    assert_eq!(
        r.agent
            .sign_challenge(&r.serial, &pin(PIN), "\u{30}\u{82}short")
            .unwrap_err(),
        AgentError::BadRequest("挑战值应为 16–512 个可打印 ASCII 字符".into())
    );
    assert_eq!(
        r.agent
            .sign_challenge("NOSUCHKEY", &pin(PIN), challenge)
            .unwrap_err(),
        AgentError::NoSuchKey("NOSUCHKEY".into())
    );

    // Wrong PINs count down, a right one resets the count, six in a row lock the key for good.
    for left in [5, 4] {
        let e = r.agent.verify_pin(&r.serial, &pin("00000000")).unwrap_err();
        assert_eq!(e, AgentError::WrongPin { left });
        assert_eq!(e.to_string(), format!("PIN 错误，还可尝试 {left} 次"));
    }
    assert_eq!(r.agent.keys().unwrap()[0].pin.tries_left, 4);
    assert_eq!(
        r.agent.verify_pin(&r.serial, &pin(PIN)).unwrap().tries_left,
        6
    );
    for left in (1..6).rev() {
        assert_eq!(
            r.agent.verify_pin(&r.serial, &pin("11111111")).unwrap_err(),
            AgentError::WrongPin { left }
        );
    }
    assert_eq!(
        r.agent.verify_pin(&r.serial, &pin("11111111")).unwrap_err(),
        AgentError::Locked
    );
    assert_eq!(
        r.agent.verify_pin(&r.serial, &pin(PIN)).unwrap_err(),
        AgentError::Locked,
        "the right PIN no longer opens a locked key"
    );
    assert_eq!(
        r.agent
            .sign_challenge(&r.serial, &pin(PIN), challenge)
            .unwrap_err(),
        AgentError::Locked
    );
    assert!(r.agent.keys().unwrap()[0].pin.locked);
}

#[test]
fn seals_are_checked_written_read_back_signed_replaced_and_deleted_on_softhsm() {
    if !in_own_softhsm("seals_are_checked_written_read_back_signed_replaced_and_deleted_on_softhsm")
    {
        return;
    }
    let r = rig();
    let der = r.cert.der();
    let a = r.platform.seal("SD100101", der, "");
    let b = r.platform.seal("SD100102", der, "");
    let out = r
        .agent
        .write(&r.serial, &pin(PIN), &[a.clone(), b.clone()], &[])
        .unwrap();
    assert_eq!(out.written, vec!["SD100101", "SD100102"]);
    // The receipts are the token's signatures over what it holds, checked the way the platform checks them.
    for (rec, seal) in out.receipts.iter().zip([&a, &b]) {
        assert!(
            r.cert.verify_signature(seal, &b64d(&rec.signature)),
            "{rec:?}"
        );
    }
    assert_eq!(
        ids(&r),
        vec![
            ("SD100101".into(), a.clone()),
            ("SD100102".into(), b.clone())
        ]
    );
    let listed = r.agent.seals(&r.serial).unwrap();
    assert_eq!(listed[0].name, "北筑设计研究院有限公司合同专用章");
    assert_eq!(listed[1].bytes, b.len());

    // Seals the agent refuses leave the key as it was.
    let other = Platform::new();
    let foreign = other.seal("SD900001", der, "");
    assert_eq!(
        r.agent
            .write(&r.serial, &pin(PIN), &[foreign], &[])
            .unwrap_err(),
        AgentError::SealRejected {
            es_id: "SD900001".into(),
            reason: "不是本平台制作的印章（制章者签名不符）".into()
        }
    );
    let someone_else = r.platform.seal("SD900002", r.platform.maker.cert.der(), "");
    assert_eq!(
        r.agent
            .write(&r.serial, &pin(PIN), &[someone_else], &[])
            .unwrap_err(),
        AgentError::SealRejected {
            es_id: "SD900002".into(),
            reason: "印章未绑定此证书 UKey 的证书".into()
        }
    );
    assert_eq!(
        r.agent
            .write(&r.serial, &pin(PIN), &[b"not a seal".to_vec()], &[])
            .unwrap_err(),
        AgentError::SealRejected {
            es_id: "#1".into(),
            reason: "不是电子印章文件".into()
        }
    );
    let c = r.platform.seal("SD100103", der, "");
    assert_eq!(
        r.agent
            .write(&r.serial, &pin("00000000"), &[c.clone()], &[])
            .unwrap_err(),
        AgentError::WrongPin { left: 5 }
    );
    assert_eq!(ids(&r).len(), 2, "nothing written with a wrong PIN");

    // Replace one, add one, delete one, in one write.
    let b2 = r.platform.seal("SD100102", der, "（换发）");
    let out = r
        .agent
        .write(
            &r.serial,
            &pin(PIN),
            &[b2.clone(), c.clone()],
            &["SD100101".into()],
        )
        .unwrap();
    assert_eq!(out.deleted, vec!["SD100101"]);
    assert_eq!(
        ids(&r),
        vec![
            ("SD100102".into(), b2.clone()),
            ("SD100103".into(), c.clone())
        ]
    );
    let back = r.agent.read_back(&r.serial, &pin(PIN), None).unwrap();
    assert_eq!(back.len(), 2);
    assert!(r.cert.verify_signature(&b2, &b64d(&back[0].signature)));
    assert_eq!(
        r.agent
            .write(&r.serial, &pin(PIN), &[], &["SD404".into()])
            .unwrap_err(),
        AgentError::BadRequest("密钥上没有印章 SD404".into())
    );
    // An agent without the maker certificate writes nothing.
    let blind = Agent::new(r.backend.clone(), Vec::new());
    assert_eq!(
        blind.write(&r.serial, &pin(PIN), &[c], &[]).unwrap_err(),
        AgentError::NoMakerCert
    );
}

#[test]
fn a_key_pulled_out_at_any_step_of_a_write_shows_the_old_seals_or_the_new_ones() {
    if !in_own_softhsm(
        "a_key_pulled_out_at_any_step_of_a_write_shows_the_old_seals_or_the_new_ones",
    ) {
        return;
    }
    let r = rig();
    let der = r.cert.der();
    let a = r.platform.seal("SD200101", der, "");
    let b = r.platform.seal("SD200102", der, "");
    let b2 = r.platform.seal("SD200102", der, "（换发）");
    let c = r.platform.seal("SD200103", der, "");
    let old = vec![
        ("SD200101".to_owned(), a.clone()),
        ("SD200102".to_owned(), b.clone()),
    ];
    let new = vec![
        ("SD200102".to_owned(), b2.clone()),
        ("SD200103".to_owned(), c.clone()),
    ];
    let mut saw_old = 0;
    let mut saw_new = 0;
    // The write below makes 8 changes on the token; pull the key out before each of them.
    for n in 0..8 {
        r.agent
            .write(&r.serial, &pin(PIN), &[a.clone(), b.clone()], &[])
            .ok();
        if ids(&r).iter().any(|(id, _)| id == "SD200103") {
            r.agent
                .write(&r.serial, &pin(PIN), &[], &["SD200103".into()])
                .unwrap();
        }
        assert_eq!(ids(&r), old, "setup for step {n}");
        r.backend.simulate_removal_after(n);
        let e = r
            .agent
            .write(
                &r.serial,
                &pin(PIN),
                &[b2.clone(), c.clone()],
                &["SD200101".into()],
            )
            .unwrap_err();
        assert_eq!(e, AgentError::Removed, "step {n}");
        assert_eq!(r.agent.keys().unwrap_err(), AgentError::Removed);
        r.backend.reinsert();
        let now_on_key = ids(&r);
        if n < 3 {
            // Before the commit record exists the write never happened.
            assert_eq!(now_on_key, old, "pulled out before change {n}");
            saw_old += 1;
        } else {
            assert_eq!(now_on_key, new, "pulled out before change {n}");
            saw_new += 1;
        }
        // Nothing staged or half-done is left behind.
        let listed: Vec<String> = r
            .agent
            .seals(&r.serial)
            .unwrap()
            .into_iter()
            .map(|s| s.es_id)
            .collect();
        assert_eq!(listed.len(), 2, "{listed:?}");
    }
    assert_eq!((saw_old, saw_new), (3, 5));
    // With the key left in, the same write goes through.
    r.agent
        .write(&r.serial, &pin(PIN), &[a.clone(), b.clone()], &[])
        .unwrap();
    r.agent
        .write(&r.serial, &pin(PIN), &[], &["SD200103".into()])
        .unwrap();
    r.backend.simulate_removal_after(8);
    r.agent
        .write(&r.serial, &pin(PIN), &[b2, c], &["SD200101".into()])
        .unwrap();
    assert_eq!(ids(&r), new);
}

#[test]
fn two_writers_on_one_key_at_once_one_is_refused_and_the_key_stays_whole() {
    if !in_own_softhsm("two_writers_on_one_key_at_once_one_is_refused_and_the_key_stays_whole") {
        return;
    }
    let r = rig();
    let der = r.cert.der();
    let first = vec![
        r.platform.seal("SD300101", der, "甲"),
        r.platform.seal("SD300102", der, "甲"),
    ];
    let second = vec![
        r.platform.seal("SD300101", der, "乙"),
        r.platform.seal("SD300102", der, "乙"),
    ];
    r.backend.slow_changes(Duration::from_millis(150));
    let agent = Arc::new(r.agent);
    let go = Arc::new(std::sync::Barrier::new(2));
    let handles: Vec<_> = [first.clone(), second.clone()]
        .into_iter()
        .map(|set| {
            let (agent, go, serial) = (agent.clone(), go.clone(), r.serial.clone());
            std::thread::spawn(move || {
                go.wait();
                agent.write(&serial, &pin(PIN), &set, &[])
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: Vec<usize> = (0..2).filter(|i| results[*i].is_ok()).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    let refused = &results[1 - ok[0]];
    assert_eq!(refused.as_ref().unwrap_err(), &AgentError::Busy);
    let winner = if ok[0] == 0 { &first } else { &second };
    let on_key: Vec<Vec<u8>> = r
        .backend
        .seals(&r.serial)
        .unwrap()
        .into_iter()
        .map(|s| s.der)
        .collect();
    assert_eq!(&on_key, winner, "the key holds one writer's set, whole");
}
