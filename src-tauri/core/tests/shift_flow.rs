//! Shifts end to end below the window: open, X report, close by a manager,
//! the Z report saved as PDF, and the audit head anchored in the keyring and
//! checked. Needs a keyring (scripts/test runs the suite in a D-Bus session
//! with a fresh gnome-keyring).

mod support;

use kaunta_core::ledger::anchor::AnchorCheck;
use kaunta_core::shift::ReportKind;
use kaunta_core::staff::{Role, Staff};
use support::{ACTIVE, till};

fn staff(name: &str, role: Role) -> Staff {
    Staff { name: name.into(), role }
}

#[tokio::test]
async fn a_shift_closes_on_a_z_report_whose_audit_head_is_anchored_and_checked() {
    let t = till().await;
    let shift = t.till.open_shift("Amina").await.unwrap();
    assert_eq!(shift.opened_by, "Amina");
    let again = t.till.open_shift("Baraka").await.unwrap_err();
    assert_eq!(again.code(), "shift_already_open");

    t.till.redeem_voucher("Amina", ACTIVE).await.unwrap();
    let x = t.till.x_report("Amina", false).await.unwrap();
    assert_eq!((x.report.kind, x.report.count, x.report.training), (ReportKind::X, 1, true));
    let kes = &x.report.by_currency[0];
    assert!(kes.total.training, "a training till's rows are marked as training");
    assert_eq!(kes.completed.as_ref().unwrap().display, "KES 750.00");
    assert_eq!(x.report.by_cashier[0].cashier, "Amina");
    assert!(x.delivery.is_none());

    let refused = t.till.close_shift(&staff("Amina", Role::Cashier)).await.unwrap_err();
    assert_eq!(refused.code(), "not_manager");
    let closed = t.till.close_shift(&staff("Mama Njeri", Role::Manager)).await.unwrap();
    assert!(closed.anchored, "{:?}", closed.anchor_error);
    let z = &closed.report;
    assert_eq!((z.kind, z.count, z.shift.closed_by.as_deref()), (ReportKind::Z, 1, Some("Mama Njeri")));
    let head = z.audit_head.clone().unwrap();
    assert_eq!(Some(head.seq), z.shift.audit_head_seq);
    assert!(closed.delivery.path.ends_with(&format!("{}-z.pdf", z.shift.id)), "{}", closed.delivery.path);
    assert!(std::fs::read(&closed.delivery.path).unwrap().starts_with(b"%PDF"));
    assert!(t.till.current_shift().await.unwrap().is_none());
    assert_eq!(t.till.x_report("Amina", false).await.unwrap_err().code(), "no_open_shift");

    let v = t.till.verify_audit_anchored().await.unwrap();
    assert!(v.is_intact(), "{v:?}");
    assert!(matches!(&v.anchor, AnchorCheck::Matched { anchor } if anchor.seq == head.seq && anchor.hash == head.hash));

    // Someone with the file cuts the log back to before the close.
    let db = rusqlite::Connection::open(t.till.ledger().path()).unwrap();
    db.execute_batch("DROP TRIGGER audit_log_no_delete").unwrap();
    db.execute("DELETE FROM audit_log WHERE seq >= ?1", [head.seq]).unwrap();
    drop(db);
    let v = t.till.verify_audit_anchored().await.unwrap();
    let bad = v.chain.first_bad.clone().unwrap();
    assert_eq!(bad.seq, head.seq);
    assert!(bad.reason.contains("cut from the end"), "{}", bad.reason);
    assert!(matches!(v.anchor, AnchorCheck::Missing { .. }));
}
