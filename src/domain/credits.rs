//! Comfort Credit ledger rules. Amounts are whole credits (`i64`); 1 credit = 1 US dollar.
//!
//! **Invoice rule** (see [`credit_for_invoice_item`]): an invoice item of type `Service` whose
//! `skuId` is one of the partner's eligible pricebook services redeems credits equal to the
//! item's total in dollars, rounded to the nearest whole dollar (halves away from zero). The
//! ledger amount is negative (credits leave the balance). A negative item total (a refund or
//! reversal) gives the credits back (positive amount). A zero total records nothing. The
//! redemption is not capped by the balance: the ledger records what happened in ServiceTitan,
//! and a negative balance is visible to the partner rather than silently lost.
use std::fmt;
use std::str::FromStr;

use super::ids::{IdempotencyKey, IdempotencyKeyError};

/// The balance of a location: the sum of its ledger amounts (saturating, never wrapping).
pub fn balance<I: IntoIterator<Item = i64>>(amounts: I) -> i64 {
    amounts.into_iter().fold(0i64, i64::saturating_add)
}

/// The value written to the ServiceTitan location custom field (custom field values are
/// strings): the plain integer, e.g. `"120"` or `"-5"`.
pub fn format_balance(balance: i64) -> String {
    balance.to_string()
}

/// Where a ledger entry came from; its [`CreditSource::dedupe_key`] is unique per partner, so
/// the same source can never be recorded twice.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CreditSource {
    /// Appended through the platform API with this idempotency key.
    Platform(IdempotencyKey),
    /// Earned or redeemed by a ServiceTitan invoice item.
    InvoiceItem {
        /// ServiceTitan invoice ID.
        invoice_id: i64,
        /// ServiceTitan invoice item ID.
        item_id: i64,
    },
}

const PLATFORM_PREFIX: &str = "platform:";
const INVOICE_PREFIX: &str = "st-invoice-item:";

impl CreditSource {
    /// `platform:<idempotency key>` or `st-invoice-item:<invoice id>:<item id>`.
    pub fn dedupe_key(&self) -> String {
        match self {
            Self::Platform(k) => format!("{PLATFORM_PREFIX}{k}"),
            Self::InvoiceItem {
                invoice_id,
                item_id,
            } => format!("{INVOICE_PREFIX}{invoice_id}:{item_id}"),
        }
    }
}

impl fmt::Display for CreditSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.dedupe_key())
    }
}

/// A stored source key that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditSourceError {
    /// Neither prefix.
    #[error("unknown credit source '{0}'")]
    Unknown(String),
    /// A platform key that is not a valid idempotency key.
    #[error("bad platform credit source: {0}")]
    BadKey(#[from] IdempotencyKeyError),
    /// An invoice source without two integer IDs.
    #[error("bad invoice credit source '{0}'")]
    BadInvoice(String),
}

impl FromStr for CreditSource {
    type Err = CreditSourceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(k) = s.strip_prefix(PLATFORM_PREFIX) {
            return Ok(Self::Platform(IdempotencyKey::parse(k)?));
        }
        if let Some(rest) = s.strip_prefix(INVOICE_PREFIX) {
            let bad = || CreditSourceError::BadInvoice(s.to_owned());
            let (inv, item) = rest.split_once(':').ok_or_else(bad)?;
            return Ok(Self::InvoiceItem {
                invoice_id: inv.parse().map_err(|_| bad())?,
                item_id: item.parse().map_err(|_| bad())?,
            });
        }
        Err(CreditSourceError::Unknown(s.to_owned()))
    }
}

/// The parts of a ServiceTitan invoice item the credit rule reads.
#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceItem {
    /// Invoice item ID.
    pub id: i64,
    /// Pricebook SKU ID, when the item comes from the pricebook.
    pub sku_id: Option<i64>,
    /// `Service`, `Material`, `Equipment`, …
    pub item_type: String,
    /// The item total in cents (convert with [`dollars_to_cents`]).
    pub total_cents: i64,
    /// Name shown in the ledger reason.
    pub sku_name: String,
}

/// A ledger entry the rule decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditDecision {
    /// Credits; negative for a redemption.
    pub amount: i64,
    /// Human reason stored with the entry.
    pub reason: String,
    /// Dedupe source.
    pub source: CreditSource,
}

/// Converts a ServiceTitan money amount (a JSON number in dollars) to cents, rounding to the
/// nearest cent. `None` for NaN, infinities or absurd values.
pub fn dollars_to_cents(dollars: f64) -> Option<i64> {
    let cents = (dollars * 100.0).round();
    if cents.is_finite() && cents.abs() < 1e15 {
        Some(cents as i64)
    } else {
        None
    }
}

/// Cents to whole credits, rounding halves away from zero.
pub fn cents_to_credits(cents: i64) -> i64 {
    let sign = cents.signum();
    sign * ((cents.unsigned_abs().saturating_add(50) / 100) as i64)
}

/// The ledger entry an invoice item causes, if any (see the module docs for the rule).
pub fn credit_for_invoice_item<F>(
    invoice_id: i64,
    item: &InvoiceItem,
    is_eligible: F,
) -> Option<CreditDecision>
where
    F: Fn(i64) -> bool,
{
    if !item.item_type.eq_ignore_ascii_case("service") {
        return None;
    }
    let sku = item.sku_id?;
    if !is_eligible(sku) {
        return None;
    }
    let credits = cents_to_credits(item.total_cents);
    if credits == 0 {
        return None;
    }
    let verb = if credits > 0 { "redeemed" } else { "returned" };
    Some(CreditDecision {
        amount: -credits,
        reason: format!(
            "{verb} on invoice {invoice_id} for '{}' (item {})",
            item.sku_name, item.id
        ),
        source: CreditSource::InvoiceItem {
            invoice_id,
            item_id: item.id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(item_type: &str, sku: Option<i64>, cents: i64) -> InvoiceItem {
        InvoiceItem {
            id: 9,
            sku_id: sku,
            item_type: item_type.into(),
            total_cents: cents,
            sku_name: "AC Tune-Up".into(),
        }
    }

    #[test]
    fn balance_sums_and_formats() {
        assert_eq!(balance([]), 0);
        assert_eq!(balance([100, 50, -30]), 120);
        assert_eq!(format_balance(balance([100, 50, -30])), "120");
        assert_eq!(format_balance(-5), "-5");
        assert_eq!(balance([i64::MAX, 1]), i64::MAX);
    }

    #[test]
    fn source_keys_round_trip() {
        let p = CreditSource::Platform(IdempotencyKey::parse("abc:1").unwrap());
        assert_eq!(p.dedupe_key(), "platform:abc:1");
        assert_eq!("platform:abc:1".parse::<CreditSource>(), Ok(p));
        let i = CreditSource::InvoiceItem {
            invoice_id: 77,
            item_id: 5,
        };
        assert_eq!(i.to_string(), "st-invoice-item:77:5");
        assert_eq!("st-invoice-item:77:5".parse::<CreditSource>(), Ok(i));
        assert!("st-invoice-item:77".parse::<CreditSource>().is_err());
        assert!("st-invoice-item:x:1".parse::<CreditSource>().is_err());
        assert!("platform:".parse::<CreditSource>().is_err());
        assert!("other:1".parse::<CreditSource>().is_err());
    }

    #[test]
    fn eligible_service_redeems_rounded_total() {
        let eligible = |id| id == 42;
        let d = credit_for_invoice_item(77, &item("Service", Some(42), 12_950), eligible).unwrap();
        assert_eq!(d.amount, -130);
        assert_eq!(
            d.source,
            CreditSource::InvoiceItem {
                invoice_id: 77,
                item_id: 9
            }
        );
        assert!(d.reason.contains("invoice 77") && d.reason.contains("AC Tune-Up"));
        let d = credit_for_invoice_item(77, &item("Service", Some(42), 12_949), eligible).unwrap();
        assert_eq!(d.amount, -129);
        // A refund gives credits back.
        let d = credit_for_invoice_item(77, &item("Service", Some(42), -5_000), eligible).unwrap();
        assert_eq!(d.amount, 50);
    }

    #[test]
    fn other_items_record_nothing() {
        let eligible = |id| id == 42;
        assert_eq!(
            credit_for_invoice_item(1, &item("Material", Some(42), 10_000), eligible),
            None
        );
        assert_eq!(
            credit_for_invoice_item(1, &item("Service", Some(41), 10_000), eligible),
            None
        );
        assert_eq!(
            credit_for_invoice_item(1, &item("Service", None, 10_000), eligible),
            None
        );
        assert_eq!(
            credit_for_invoice_item(1, &item("Service", Some(42), 49), eligible),
            None
        );
        assert!(credit_for_invoice_item(1, &item("service", Some(42), 100), eligible).is_some());
    }

    #[test]
    fn money_conversion() {
        assert_eq!(dollars_to_cents(129.5), Some(12_950));
        assert_eq!(dollars_to_cents(0.1 + 0.2), Some(30));
        assert_eq!(dollars_to_cents(f64::NAN), None);
        assert_eq!(cents_to_credits(150), 2);
        assert_eq!(cents_to_credits(-150), -2);
        assert_eq!(cents_to_credits(149), 1);
        assert_eq!(cents_to_credits(0), 0);
    }

    proptest! {
        #[test]
        fn balance_is_order_independent(mut v in proptest::collection::vec(-10_000i64..10_000, 0..50)) {
            let a = balance(v.clone());
            v.reverse();
            prop_assert_eq!(a, balance(v.clone()));
            prop_assert_eq!(a, v.iter().sum::<i64>());
        }

        #[test]
        fn rounding_is_symmetric(c in -1_000_000i64..1_000_000) {
            prop_assert_eq!(cents_to_credits(-c), -cents_to_credits(c));
            prop_assert!((cents_to_credits(c) * 100 - c).abs() <= 50);
        }
    }
}
