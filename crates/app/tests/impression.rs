//! The per-order 印模采集表 through the use cases: the PDF the server draws, printed with `pdftoppm`, stamped by
//! the test, uploaded. A form of another order is refused, an empty box blocks submission with the box named,
//! an unstamped form cannot be submitted, and swapped stamps give each made seal the picture of its own box.

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
