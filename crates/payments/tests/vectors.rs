//! The adapters against the published and self-made vectors of `testdata/standards` (read from the files), and
//! the invoice PDF rasterised and read back with poppler.

use sealdesk_domain::Fen;
use sealdesk_payments::alipay::{Alipay, AlipayConfig, notify_signing_content};
use sealdesk_payments::invoice::{
    InvoiceDoc, InvoiceLine, InvoiceType, Party, invoice_number, render_pdf,
};
use sealdesk_payments::rsakey::{RsaPrivate, RsaPublic};
use sealdesk_payments::sms::{acs3_sign, pop_v2_signature};
use sealdesk_payments::wechat::{Wechat, WechatConfig, decrypt_resource};
use sealdesk_payments::{PayError, PayMode, PayRequest, PaymentProvider, TradeStatus};
use std::time::Duration;

fn testdata(name: &str) -> String {
    let path = format!("{}/../../testdata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The line after the line starting with `label`, or the rest of the labelled line itself.
fn after(text: &str, label: &str) -> String {
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        if let Some(rest) = l.trim_start().strip_prefix(label) {
            let rest = rest.trim();
            return if rest.is_empty() {
                lines.next().unwrap_or("").to_owned()
            } else {
                rest.to_owned()
            };
        }
    }
    panic!("{label} not in the vector file")
}

/// A Python repr of a str ('…' with \n escapes) back to the string.
fn unrepr(s: &str) -> String {
    s.trim()
        .trim_start_matches('\'')
        .trim_end_matches('\'')
        .replace("\\n", "\n")
}

fn app_key() -> RsaPrivate {
    RsaPrivate::from_pem(&testdata("standards/test_rsa2048_private_pkcs8.pem")).unwrap()
}

fn alipay_with(gateway_key: RsaPublic) -> Alipay {
    Alipay::new(AlipayConfig {
        app_id: "2021000000000000".into(),
        gateway: "https://openapi.alipay.com/gateway.do".into(),
        app_key: app_key(),
        alipay_key: gateway_key,
        seller_id: Some("2088000000000002".into()),
        notify_url: "https://example.com/pay/alipay/notify".into(),
        return_url: "https://example.com/pay/done".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

#[test]
fn the_public_key_file_is_the_private_keys_half() {
    let public = RsaPublic::from_pem(&testdata("standards/test_rsa2048_public_spki.pem")).unwrap();
    let sig = app_key().sign_b64(b"x");
    assert!(public.verify_b64(b"x", &sig));
    assert!(!public.verify_b64(b"y", &sig));
    assert!(!public.verify_b64(b"x", "not base64!"));
}

#[test]
fn alipay_page_pay_signs_the_reference_string_to_the_reference_signature() {
    let v = testdata("standards/signing_output.txt");
    let want_content = after(&v, "request string-to-sign:");
    let want_sign = after(&v, "sign (our test key test_rsa2048_private_pkcs8.pem):");
    let alipay = alipay_with(app_key().public());
    let url = alipay
        .page_pay_url(
            &PayRequest {
                out_trade_no: "ES20260105000001".into(),
                amount: Fen(8_000),
                subject: "电子印章申请-技术服务费".into(),
                mode: PayMode::Page,
            },
            "2026-01-05 10:00:00",
        )
        .unwrap();
    let (base, query) = url.split_once('?').unwrap();
    assert_eq!(base, "https://openapi.alipay.com/gateway.do");
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(
        sealdesk_payments::alipay::request_signing_content(&params),
        want_content
    );
    let sign = &params.iter().find(|(k, _)| k == "sign").unwrap().1;
    assert_eq!(sign, &want_sign);
}

fn notify_params(v: &str) -> Vec<(String, String)> {
    after(v, "notify verify-string:")
        .split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap();
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

fn notify_body(params: &[(String, String)], key: &RsaPrivate) -> String {
    let sig = key.sign_b64(notify_signing_content(params).as_bytes());
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter().cloned())
        .append_pair("sign_type", "RSA2")
        .append_pair("sign", &sig)
        .finish()
}

#[test]
fn alipay_notifications_verify_by_the_v1_rule_and_any_change_is_refused() {
    let v = testdata("standards/signing_output.txt");
    let params = notify_params(&v);
    // The file's verify-string is already sorted without sign/sign_type: our rule must reproduce it.
    let mut shuffled = params.clone();
    shuffled.reverse();
    shuffled.push(("sign_type".into(), "RSA2".into()));
    assert_eq!(
        notify_signing_content(&shuffled),
        after(&v, "notify verify-string:")
    );
    // PKCS#1 v1.5 is deterministic: the file's (truncated) notify signature is a prefix of ours.
    let key = app_key();
    let prefix = after(&v, "notify sign:");
    let prefix = prefix.split("...").next().unwrap();
    assert!(
        key.sign_b64(notify_signing_content(&params).as_bytes())
            .starts_with(prefix)
    );

    // Pretend the test key is Alipay's: the notification verifies and reports the trade.
    let alipay = alipay_with(key.public());
    let body = notify_body(&params, &key);
    let t = alipay.verify_notify(body.as_bytes()).unwrap();
    assert_eq!(t.out_trade_no, "ES20260105000001");
    assert_eq!(t.amount, Fen(8_000));
    assert_eq!(t.gateway_txn, "2026010522001400000000000001");
    assert_eq!(t.status, TradeStatus::Paid);

    let tampered = body.replace("total_amount=80.00", "total_amount=0.01");
    assert_ne!(tampered, body);
    assert_eq!(
        alipay.verify_notify(tampered.as_bytes()),
        Err(PayError::BadSignature)
    );
    // Signed by someone else (the app's own key is not Alipay's).
    let other = RsaPrivate::from_pem(&testdata("standards/wechatpay_go_testing_key.pem")).unwrap();
    assert_eq!(
        alipay.verify_notify(notify_body(&params, &other).as_bytes()),
        Err(PayError::BadSignature)
    );
    // Correctly signed for another app.
    let foreign: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| {
            if k == "app_id" {
                (k.clone(), "2021999999999999".into())
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect();
    assert_eq!(
        alipay.verify_notify(notify_body(&foreign, &key).as_bytes()),
        Err(PayError::ForeignApp("2021999999999999".into()))
    );
    assert_eq!(
        alipay.verify_notify(format!("{body}&trade_status=TRADE_SUCCESS").as_bytes()),
        Err(PayError::Malformed("repeated trade_status".into()))
    );
    assert_eq!(
        alipay.verify_notify(b"\xff\xfe=&="),
        Err(PayError::Malformed("missing sign_type".into()))
    );
}

/// wechatpay-go `utils/sign_test.go`: SHA256withRSA of "source" with the SDK's published testing key.
const WECHATPAY_GO_SIGN_VECTOR: &str = "BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoVz+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLli/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==";

#[test]
fn wechat_sdk_signature_vector_is_reproduced() {
    let key = RsaPrivate::from_pem(&testdata("standards/wechatpay_go_testing_key.pem")).unwrap();
    assert_eq!(key.sign_b64(b"source"), WECHATPAY_GO_SIGN_VECTOR);
}

fn wechat() -> Wechat {
    let platform =
        RsaPrivate::from_pem(&testdata("standards/wechatpay_go_testing_key.pem")).unwrap();
    Wechat::new(WechatConfig {
        appid: "wxd678efh567hg6787".into(),
        mchid: "1230000109".into(),
        mch_serial: "TESTSERIAL0000000000000000000000000000".into(),
        mch_key: app_key(),
        apiv3_key: zeroize::Zeroizing::new(b"0123456789abcdefghijklmnopqrstuv".to_vec()),
        verify_keys: vec![("PUB_KEY_ID_TEST".into(), platform.public())],
        base_url: "https://api.mch.weixin.qq.com".into(),
        notify_url: "https://example.com/pay/wechat/notify".into(),
        timeout: Duration::from_secs(2),
    })
    .unwrap()
}

#[test]
fn wechat_native_request_is_signed_to_the_reference_authorization_header() {
    let v = testdata("standards/signing_output.txt");
    let message = unrepr(&after(&v, "request message (repr):"));
    let want_auth = after(&v, "Authorization: WECHATPAY2-SHA256-RSA2048");
    let w = wechat();
    let body = w
        .native_body(&PayRequest {
            out_trade_no: "ES20260105000001".into(),
            amount: Fen(8_000),
            subject: "电子印章申请-技术服务费".into(),
            mode: PayMode::Qr,
        })
        .unwrap();
    let ts = 1_767_578_400;
    let nonce = "593BEC0C930BF1AFEB40B4A08C8FB242";
    assert_eq!(
        sealdesk_payments::wechat::request_message(
            "POST",
            "/v3/pay/transactions/native",
            ts,
            nonce,
            &body
        ),
        message
    );
    assert_eq!(
        w.authorization("POST", "/v3/pay/transactions/native", &body, ts, nonce),
        format!("WECHATPAY2-SHA256-RSA2048 {want_auth}")
    );
}

#[test]
fn wechat_resources_decrypt_with_the_sdk_and_the_aes_256_vectors() {
    // wechatpay-go utils/aes_test.go (its key has 16 bytes, so AES-128-GCM).
    let plain = decrypt_resource(
        b"testAPIv3Key0000",
        "wCq51qZv4Yfg",
        "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8",
        "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC",
    )
    .unwrap();
    assert_eq!(plain.as_slice(), b"Hello World");

    let v = testdata("standards/signing_output.txt");
    let ct = after(&v, "ciphertext(b64, tag appended)=");
    let key = b"0123456789abcdefghijklmnopqrstuv";
    let plain = decrypt_resource(key, "fdasflkja484", "transaction", &ct).unwrap();
    assert_eq!(
        std::str::from_utf8(&plain).unwrap(),
        r#"{"mchid":"1230000109","out_trade_no":"ES20260105000001","trade_state":"SUCCESS","amount":{"total":8000,"payer_total":8000,"currency":"CNY","payer_currency":"CNY"}}"#
    );
    // The tag covers the associated data and the ciphertext.
    assert_eq!(
        decrypt_resource(key, "fdasflkja484", "transactioN", &ct).map(|_| ()),
        Err(PayError::BadSignature)
    );
    assert!(matches!(
        decrypt_resource(key, "short", "transaction", &ct),
        Err(PayError::Malformed(_))
    ));
}

#[test]
fn aliyun_v2_and_v3_signatures_match_the_documented_examples() {
    let v = testdata("standards/signing_output.txt");
    let p = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let v2 = p(&[
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
        ("AccessKeyId", "testId"),
        ("SignatureVersion", "1.0"),
        ("Timestamp", "2017-07-12T02:42:19Z"),
        ("Format", "XML"),
        ("Action", "SendSms"),
        ("Version", "2017-05-25"),
        ("RegionId", "cn-hangzhou"),
        ("PhoneNumbers", "15300000001"),
        ("SignName", "阿里云短信测试专用"),
        ("TemplateParam", "{\"customer\":\"test\"}"),
        ("TemplateCode", "SMS_71390007"),
        ("OutId", "123"),
    ]);
    let want_v2 = after(&v, "V2 Signature:");
    let want_v2 = want_v2.split_whitespace().next().unwrap();
    assert_eq!(want_v2, "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
    assert_eq!(pop_v2_signature("GET", &v2, "testSecret"), want_v2);

    let query = p(&[
        (
            "ImageId",
            "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd",
        ),
        ("RegionId", "cn-shanghai"),
    ]);
    let mut headers = p(&[
        ("host", "ecs.cn-shanghai.aliyuncs.com"),
        ("x-acs-action", "RunInstances"),
        ("x-acs-version", "2014-05-26"),
        ("x-acs-date", "2023-10-26T09:01:01Z"),
        ("x-acs-signature-nonce", "d410180a5abf7fe235dd9b74aca91fc0"),
    ]);
    let s = acs3_sign(
        "POST",
        "/",
        &query,
        &mut headers,
        b"",
        "YourAccessKeySecret",
    );
    assert_eq!(
        s.canonical_request,
        unrepr(&after(&v, "V3 CanonicalRequest (repr):"))
    );
    let want_v3 = after(&v, "V3 signature:");
    assert_eq!(s.signature, want_v3.split_whitespace().next().unwrap());
    assert_eq!(
        s.signature,
        "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"
    );
}

fn doc(total: Fen) -> InvoiceDoc {
    InvoiceDoc {
        kind: InvoiceType::General,
        number: invoice_number(2026, 36, 1, 7),
        date: "2026年01月05日".into(),
        buyer: Party {
            name: "江西省电子印章测试有限公司".into(),
            taxpayer_id: "91360100MA35XXXX1A".into(),
            ..Party::default()
        },
        seller: Party {
            name: "金格科技股份有限公司".into(),
            taxpayer_id: "911100007000000001".into(),
            address_phone: "南昌市红谷滩区 0791-82221588".into(),
            bank_account: "中国银行南昌分行 1234567890".into(),
        },
        lines: vec![InvoiceLine::service_fee(total, 1, 6)],
        remark: "订单编号 KG-20260105-1".into(),
        issuer: "系统".into(),
    }
}

fn run(cmd: &str, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} (poppler-utils) must be installed: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The dark share of a binary PGM (P5) image.
fn dark_share(pgm: &[u8]) -> f64 {
    // Header: "P5\n<w> <h>\n<max>\n" then w*h bytes.
    let mut fields = Vec::new();
    let mut i = 0;
    while fields.len() < 4 {
        while pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        let start = i;
        while !pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields.push(String::from_utf8_lossy(&pgm[start..i]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    let pixels = &pgm[i + 1..];
    assert_eq!(pixels.len(), w * h);
    pixels.iter().filter(|&&p| p < 128).count() as f64 / (w * h) as f64
}

#[test]
fn the_invoice_pdf_embeds_its_font_and_reads_back_in_chinese() {
    let dir = tempfile::tempdir().unwrap();
    for (total, capitals, amount, tax) in [
        (Fen(8_000), "捌拾元整", "75.47", "4.53"),
        (Fen(600_714), "陆仟零柒元壹角肆分", "5667.11", "340.03"),
    ] {
        let d = doc(total);
        assert_eq!(d.total(), total);
        let pdf = render_pdf(&d).unwrap();
        let path = dir.path().join("invoice.pdf");
        std::fs::write(&path, &pdf).unwrap();
        let p = path.to_str().unwrap();

        let text = String::from_utf8(run("pdftotext", &["-layout", p, "-"])).unwrap();
        for want in [
            "电子发票（普通发票）",
            "*信息技术服务*技术服务费",
            "江西省电子印章测试有限公司",
            "金格科技股份有限公司",
            "价税合计（大写）",
            capitals,
            amount,
            tax,
            "6%",
            "26361000000000000007",
            "2026年01月05日",
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
        assert!(
            text.contains(&format!("￥{}", total.yuan_string())),
            "{text}"
        );

        let fonts = String::from_utf8(run("pdffonts", &[p])).unwrap();
        let row = fonts
            .lines()
            .find(|l| l.contains("NotoSerif"))
            .unwrap_or_else(|| panic!("{fonts}"));
        // emb, sub, uni columns.
        assert!(row.contains("yes yes yes"), "{fonts}");

        let prefix = dir.path().join("page");
        run(
            "pdftoppm",
            &[
                "-r",
                "40",
                "-gray",
                "-singlefile",
                p,
                prefix.to_str().unwrap(),
            ],
        );
        let share = dark_share(&std::fs::read(dir.path().join("page.pgm")).unwrap());
        // Text and rules cover a few per cent of the page; a blank page is 0, a black one 1.
        assert!((0.005..0.3).contains(&share), "dark share {share}");
    }
}

#[test]
fn the_invoice_refuses_names_its_font_cannot_draw() {
    let mut d = doc(Fen(8_000));
    d.buyer.name = "𠀀有限公司".into();
    assert_eq!(
        render_pdf(&d),
        Err(sealdesk_payments::invoice::InvoiceError::Uncovered(
            "𠀀".into()
        ))
    );
}

#[test]
fn providers_are_usable_as_trait_objects() {
    let list: Vec<Box<dyn PaymentProvider>> = vec![
        Box::new(alipay_with(app_key().public())),
        Box::new(wechat()),
    ];
    assert_eq!(
        list.iter().map(|p| p.channel().code()).collect::<Vec<_>>(),
        ["alipay", "wechat"]
    );
    assert_eq!(list[0].notification_reply(true).body, "success");
    assert_eq!(list[1].notification_reply(true).status, 204);
}
