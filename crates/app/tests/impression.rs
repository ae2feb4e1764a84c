//! The per-order 印模采集表 through the use cases: the PDF the server draws, printed with `pdftoppm`, stamped by
//! the test, uploaded. A form of another order is refused, an empty box blocks submission with the box named,
//! an unstamped form cannot be submitted, swapped stamps give each made seal the picture of its own box, and a
//! scan without the QR code waits for the applicant's 印模确认.

mod common;

use common::*;
use sealdesk_app::*;
use sealdesk_artwork::testkit::picture_iou;
use sealdesk_domain::*;
use sealdesk_store::Store;

async fn setup(store: Store) -> (Env, Who, Who, Order) {
    let e = env(store.clone()).await;
    let reviewer = project_and_reviewer(&e.app, &store).await;
    let alice = sign_in(&e.app, "13800138000").await;
    let order = e
        .app
        .create_order(&alice, "testCSQY", &form())
        .await
        .unwrap();
    let scan =
        sealdesk_artwork::testkit::generate(0x5ea1, sealdesk_artwork::testkit::FormSpec::A4_150)
            .jpeg;
    for kind in [UploadKind::IdFront, UploadKind::IdBack, UploadKind::Licence] {
        e.app
            .add_upload(&alice, order.id, kind, "scan.jpg", scan.clone())
            .await
            .unwrap();
    }
    (e, alice, reviewer, order)
}

async fn sqlite() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::connect(
        &format!("sqlite://{}", dir.path().join("t.db").display()),
        1,
    )
    .await
    .unwrap();
    (dir, store)
}

async fn upload_form(
    e: &Env,
    who: &Who,
    id: i64,
    bytes: Vec<u8>,
) -> Result<UploadOutcome, AppError> {
    e.app
        .add_upload(who, id, UploadKind::ImpressionForm, "form.jpg", bytes)
        .await
}

fn messages(err: &AppError) -> Vec<String> {
    match err {
        AppError::Invalid(errs) => errs
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect(),
        other => panic!("not a field error: {other:?}"),
    }
}

#[tokio::test]
async fn a_form_of_another_order_is_refused_and_nothing_is_kept() {
    let (_dir, store) = sqlite().await;
    let (e, alice, _, order) = setup(store.clone()).await;
    let other = e
        .app
        .create_order(&alice, "testCSQY", &form())
        .await
        .unwrap();
    let mut sheet = printed_form(&e.app, &alice, &other).await;
    sheet
        .press(&official_stamp(), box_centre(&other, 0))
        .unwrap();
    sheet
        .press(&qualification_stamp(), box_centre(&other, 1))
        .unwrap();
    let err = upload_form(&e, &alice, order.id, sheet.jpeg())
        .await
        .unwrap_err();
    assert_eq!(
        messages(&err),
        [format!(
            "uploads.impression_form: 此印模采集表属于订单 {}，不是本订单 {}，请下载本订单的印模采集表",
            other.order_no, order.order_no
        )]
    );
    assert!(
        !store
            .uploads(order.id)
            .await
            .unwrap()
            .iter()
            .any(|u| u.kind == UploadKind::ImpressionForm),
        "nothing stored"
    );
}

#[tokio::test]
async fn an_empty_box_or_an_unstamped_form_blocks_submission_naming_the_box() {
    let (_dir, store) = sqlite().await;
    let (e, alice, _, order) = setup(store.clone()).await;
    // Unstamped: both boxes named.
    let blank = printed_form(&e.app, &alice, &order).await;
    let up = upload_form(&e, &alice, order.id, blank.jpeg())
        .await
        .unwrap();
    assert_eq!(up.impressions, Some(Ok(0)));
    let err = e.app.submit(&alice, order.id).await.unwrap_err();
    assert_eq!(
        messages(&err),
        [
            "uploads.impression_form: 第 1 枚（企业公章）框内未找到印章",
            "uploads.impression_form: 第 2 枚（企业资质印章）框内未找到印章",
        ]
    );
    // Only the 公章 stamped: box 2 named.
    let mut sheet = blank.clone();
    sheet
        .press(&official_stamp(), box_centre(&order, 0))
        .unwrap();
    let up = upload_form(&e, &alice, order.id, sheet.jpeg())
        .await
        .unwrap();
    assert_eq!(up.impressions, Some(Ok(1)));
    let err = e.app.submit(&alice, order.id).await.unwrap_err();
    assert_eq!(
        messages(&err),
        ["uploads.impression_form: 第 2 枚（企业资质印章）框内未找到印章"]
    );
    assert_eq!(
        store.order(order.id).await.unwrap().state,
        OrderState::Draft
    );
}

#[tokio::test]
async fn swapped_stamps_give_each_seal_the_picture_of_its_own_box() {
    let (_dir, store) = sqlite().await;
    let (e, alice, reviewer, order) = setup(store.clone()).await;
    let app = &e.app;
    // The 资质专用章 pressed into box 1 (the 企业公章's) and the 公章 into box 2.
    let mut sheet = printed_form(app, &alice, &order).await;
    sheet
        .press(&qualification_stamp(), box_centre(&order, 0))
        .unwrap();
    sheet
        .press(&official_stamp(), box_centre(&order, 1))
        .unwrap();
    let up = upload_form(&e, &alice, order.id, sheet.jpeg())
        .await
        .unwrap();
    assert_eq!(up.impressions, Some(Ok(2)));
    let made = submitted_to_made(&e, &store, &alice, &reviewer, order.id).await;
    assert_eq!(made.state, OrderState::Made);
    let mut seals = store.seals(order.id).await.unwrap();
    seals.sort_by_key(|s| s.seq);
    assert_eq!(seals.len(), 2);
    assert_eq!(seals[0].kind, SealKind::OfficialSeal);
    assert_eq!(seals[1].kind, SealKind::QualificationSeal);
    let (q, o) = (qualification_stamp(), official_stamp());
    let first = [
        picture_iou(&seals[0].picture_png, &q).unwrap(),
        picture_iou(&seals[0].picture_png, &o).unwrap(),
    ];
    let second = [
        picture_iou(&seals[1].picture_png, &o).unwrap(),
        picture_iou(&seals[1].picture_png, &q).unwrap(),
    ];
    println!("seal 1 against box 1's stamp, the other: {first:?}; seal 2: {second:?}");
    assert!(first[0] >= 0.9 && first[1] < 0.5, "{first:?}");
    assert!(second[0] >= 0.9 && second[1] < 0.5, "{second:?}");
}

/// A white A4 sheet at 300 dpi with `stamps` pressed at their centres (mm): a stamped page with neither the
/// order's corner marks nor its QR code, as a form printed by hand would be.
fn plain_sheet(stamps: &[(Vec<u8>, (f32, f32))]) -> Vec<u8> {
    let (width, height) = (2480, 3508);
    let mut sheet = sealdesk_artwork::testkit::Printed {
        rgb: vec![255; width * height * 3],
        width,
        height,
        dpi: 300.0,
    };
    for (png, at) in stamps {
        sheet.press(png, *at).unwrap();
    }
    sheet.jpeg()
}

/// 印模确认: a scan without the order's QR code gives its impressions in page order, which says nothing about
/// which seal each is. Submitting waits for the applicant to say it (named on the page); a choice that gives one
/// seal two impressions is refused by name; the confirmed choice decides each made seal's picture; a new upload
/// needs its own confirmation. Here the page order is the reverse of the seals' (the 资质专用章 left of the 公章).
#[tokio::test]
async fn a_form_without_its_qr_code_waits_for_the_applicant_to_say_which_impression_is_which() {
    let (_dir, store) = sqlite().await;
    let (e, alice, reviewer, order) = setup(store.clone()).await;
    let app = &e.app;
    let (q, o) = (qualification_stamp(), official_stamp());
    let scan = plain_sheet(&[(q.clone(), (60.0, 150.0)), (o.clone(), (150.0, 150.0))]);
    let up = upload_form(&e, &alice, order.id, scan.clone())
        .await
        .unwrap();
    assert_eq!(up.impressions, Some(Ok(2)));
    let err = app.submit(&alice, order.id).await.unwrap_err();
    assert_eq!(
        messages(&err),
        [format!("uploads.impression_form: {UNCONFIRMED_MESSAGE}")]
    );
    let Cutouts::Unconfirmed { found, seals } = app.cutouts(&alice, order.id).await.unwrap() else {
        panic!("the impressions wait for 印模确认")
    };
    assert_eq!(found.len(), 2);
    assert_eq!(
        seals.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
        [SealKind::OfficialSeal, SealKind::QualificationSeal]
    );
    // The first impression found, in page order, is the 资质专用章.
    let first = app.cutout_png(&alice, order.id, 0).await.unwrap();
    assert!(picture_iou(&first, &q).unwrap() >= 0.9);

    let err = app
        .confirm_cutouts(&alice, order.id, &[0, 0])
        .await
        .unwrap_err();
    assert_eq!(
        messages(&err),
        ["cutouts: 第 1 枚印章选了两枚印模（第 1 枚和第 2 枚），每枚印章只能对应一枚印模"]
    );
    let err = app
        .confirm_cutouts(&alice, order.id, &[1])
        .await
        .unwrap_err();
    assert_eq!(
        messages(&err),
        ["cutouts: 印模采集表上有 1 枚印模，本订单有 2 枚印章，请重新上传"]
    );
    // Another applicant cannot confirm (nor learn that the order exists).
    let mallory = sign_in(app, "13900139000").await;
    assert!(matches!(
        app.confirm_cutouts(&mallory, order.id, &[1, 0]).await,
        Err(AppError::NotFound)
    ));
    // Impression 1 (the 资质专用章) is seal 2, impression 2 (the 公章) seal 1.
    let confirmed = app
        .confirm_cutouts(&alice, order.id, &[1, 0])
        .await
        .unwrap();
    assert_eq!(confirmed.confirmed_cutouts.unwrap().pick, vec![1, 0]);
    let Cutouts::Found(list) = app.cutouts(&alice, order.id).await.unwrap() else {
        panic!("confirmed")
    };
    assert_eq!(list[0].kind, SealKind::OfficialSeal);
    assert!(picture_iou(&app.cutout_png(&alice, order.id, 0).await.unwrap(), &o).unwrap() >= 0.9);

    // A new scan (the same stamps, moved) needs its own confirmation.
    let moved = plain_sheet(&[(q.clone(), (60.0, 160.0)), (o.clone(), (150.0, 160.0))]);
    upload_form(&e, &alice, order.id, moved).await.unwrap();
    assert_eq!(
        messages(&app.submit(&alice, order.id).await.unwrap_err()),
        [format!("uploads.impression_form: {UNCONFIRMED_MESSAGE}")]
    );
    app.confirm_cutouts(&alice, order.id, &[1, 0])
        .await
        .unwrap();
    let made = submitted_to_made(&e, &store, &alice, &reviewer, order.id).await;
    assert_eq!(made.state, OrderState::Made);
    // Confirmation is over once the seals are made.
    assert!(matches!(
        app.confirm_cutouts(&alice, order.id, &[0, 1]).await,
        Err(AppError::Conflict(m)) if m == "订单状态为「已制章」，不能再确认印模"
    ));
    let mut seals = store.seals(order.id).await.unwrap();
    seals.sort_by_key(|s| s.seq);
    assert_eq!(seals[0].kind, SealKind::OfficialSeal);
    let got = [
        picture_iou(&seals[0].picture_png, &o).unwrap(),
        picture_iou(&seals[1].picture_png, &q).unwrap(),
    ];
    assert!(got[0] >= 0.9 && got[1] >= 0.9, "{got:?}");
    let trail = store.audit_entries(Some(order.id)).await.unwrap();
    assert_eq!(
        trail
            .iter()
            .filter(|a| a.action == "confirm_cutouts")
            .count(),
        2,
        "each 印模确认 is audited"
    );
}

/// Before 制章 the applicant may stamp again: while the order is under review its files are fixed, but once
/// approved, and until the seals are made, a new 印模采集表 replaces the old, and the seals are made from it.
#[tokio::test]
async fn the_form_can_be_replaced_after_approval_until_the_seals_are_made() {
    let (_dir, store) = sqlite().await;
    let (e, alice, reviewer, order) = setup(store.clone()).await;
    let app = &e.app;
    let (q, o) = (qualification_stamp(), official_stamp());
    // First the stamps swapped between the boxes: the reviewer approves what the boxes hold.
    let mut swapped = printed_form(app, &alice, &order).await;
    swapped.press(&q, box_centre(&order, 0)).unwrap();
    swapped.press(&o, box_centre(&order, 1)).unwrap();
    upload_form(&e, &alice, order.id, swapped.jpeg())
        .await
        .unwrap();
    app.submit(&alice, order.id).await.unwrap();
    let err = upload_form(
        &e,
        &alice,
        order.id,
        stamped_form(app, &alice, &order).await,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m == "订单状态为「待审核」，不能再修改资料"),
        "{err:?}"
    );
    app.approve(&reviewer, order.id).await.unwrap();
    // Approved: the applicant sees the 公章 box holds the 资质专用章 and stamps the form again.
    let before = app.cutout_png(&alice, order.id, 0).await.unwrap();
    assert!(picture_iou(&before, &q).unwrap() >= 0.9);
    upload_form(
        &e,
        &alice,
        order.id,
        stamped_form(app, &alice, &order).await,
    )
    .await
    .unwrap();
    let after = app.cutout_png(&alice, order.id, 0).await.unwrap();
    assert!(picture_iou(&after, &o).unwrap() >= 0.9);
    app.confirm_invoice(&alice, order.id, &personal_invoice())
        .await
        .unwrap();
    let (payment, _) = app
        .start_payment(&alice, order.id, "sandbox")
        .await
        .unwrap();
    app.sandbox_pay(&alice, payment.id).await.unwrap();
    let mut token = sealdesk_adapters::token::SoftToken::open(&e.token_dir).unwrap();
    let made = authorize_with(app, &alice, order.id, &mut token)
        .await
        .unwrap();
    assert_eq!(made.state, OrderState::Made);
    let mut seals = store.seals(order.id).await.unwrap();
    seals.sort_by_key(|s| s.seq);
    assert!(picture_iou(&seals[0].picture_png, &o).unwrap() >= 0.9);
    assert!(picture_iou(&seals[1].picture_png, &q).unwrap() >= 0.9);
    let err = upload_form(
        &e,
        &alice,
        order.id,
        stamped_form(app, &alice, &order).await,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m == "订单状态为「已制章」，不能再修改资料"),
        "{err:?}"
    );
}
