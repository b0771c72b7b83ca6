//! Every ServiceTitan path the client uses, in one place (API.md §1–10), so a correction is one
//! edit. API paths are `(module, path below /{module}/v2/tenant/{tenant})`.

/// Token endpoint below the auth base URL.
pub const TOKEN: &str = "/connect/token";

/// CRM module.
pub const CRM: &str = "crm";
/// Jobs and project management module.
pub const JPM: &str = "jpm";
/// Dispatch module.
pub const DISPATCH: &str = "dispatch";
/// Settings module.
pub const SETTINGS: &str = "settings";
/// Memberships module.
pub const MEMBERSHIPS: &str = "memberships";
/// Pricebook module.
pub const PRICEBOOK: &str = "pricebook";
/// Accounting module.
pub const ACCOUNTING: &str = "accounting";
/// Marketing module.
pub const MARKETING: &str = "marketing";

pub(crate) const CUSTOMERS: &str = "/customers";
pub(crate) fn customer(id: i64) -> String {
    format!("/customers/{id}")
}
pub(crate) fn customer_contacts(id: i64) -> String {
    format!("/customers/{id}/contacts")
}
pub(crate) fn customer_tag(id: i64, tag_type_id: i64) -> String {
    format!("/customers/{id}/tags/{tag_type_id}")
}
pub(crate) const CUSTOMER_CUSTOM_FIELDS: &str = "/customers/custom-fields";
pub(crate) fn location_tag(id: i64, tag_type_id: i64) -> String {
    format!("/locations/{id}/tags/{tag_type_id}")
}
pub(crate) const LOCATIONS: &str = "/locations";
pub(crate) fn location(id: i64) -> String {
    format!("/locations/{id}")
}
pub(crate) const LOCATION_CUSTOM_FIELDS: &str = "/locations/custom-fields";
pub(crate) const BOOKINGS: &str = "/bookings";
pub(crate) const BOOKING_PROVIDER_TAGS: &str = "/booking-provider-tags";
pub(crate) fn booking(id: i64) -> String {
    format!("/bookings/{id}")
}
pub(crate) fn provider_bookings(provider: i64) -> String {
    format!("/booking-provider/{provider}/bookings")
}
pub(crate) fn provider_booking(provider: i64, id: i64) -> String {
    format!("/booking-provider/{provider}/bookings/{id}")
}

pub(crate) const JOBS: &str = "/jobs";
pub(crate) fn job(id: i64) -> String {
    format!("/jobs/{id}")
}
pub(crate) fn job_notes(id: i64) -> String {
    format!("/jobs/{id}/notes")
}
pub(crate) const JOB_TYPES: &str = "/job-types";
pub(crate) const APPOINTMENTS: &str = "/appointments";

pub(crate) const BUSINESS_UNITS: &str = "/business-units";
pub(crate) const TAG_TYPES: &str = "/tag-types";
pub(crate) const TECHNICIANS: &str = "/technicians";

pub(crate) const MEMBERSHIP_TYPES: &str = "/membership-types";
pub(crate) const MEMBERSHIPS_LIST: &str = "/memberships";
pub(crate) fn membership(id: i64) -> String {
    format!("/memberships/{id}")
}
pub(crate) const MEMBERSHIP_SALE: &str = "/memberships/sale";

pub(crate) const CAPACITY: &str = "/capacity";
pub(crate) const ARRIVAL_WINDOWS: &str = "/arrival-windows";

pub(crate) const SERVICES: &str = "/services";
pub(crate) const INVOICES: &str = "/invoices";
pub(crate) const CAMPAIGNS: &str = "/campaigns";
pub(crate) fn membership_duration_billing(type_id: i64) -> String {
    format!("/membership-types/{type_id}/duration-billing-items")
}

pub(crate) const EXPORT_JOBS: &str = "/export/jobs";
pub(crate) const EXPORT_APPOINTMENTS: &str = "/export/appointments";
pub(crate) const EXPORT_INVOICES: &str = "/export/invoices";
pub(crate) const EXPORT_MEMBERSHIPS: &str = "/export/memberships";
pub(crate) const EXPORT_LOCATIONS: &str = "/export/locations";
pub(crate) const EXPORT_BOOKINGS: &str = "/export/bookings";
pub(crate) const EXPORT_CUSTOMERS: &str = "/export/customers";
pub(crate) const EXPORT_JOB_NOTES: &str = "/export/job-notes";
pub(crate) const EXPORT_INVOICE_ITEMS: &str = "/export/invoice-items";

/// Every call the client makes (and the few it is about to make), as
/// `(method, module, template below /tenant/{tenant})`. `tests/contract.rs` checks each against
/// the official OpenAPI documents; keep it in step with `api/*.rs`.
pub const ENDPOINTS: &[(&str, &str, &str)] = &[
    // CRM: customers
    ("GET", CRM, "/customers"),
    ("GET", CRM, "/customers/{id}"),
    ("POST", CRM, "/customers"),
    ("PATCH", CRM, "/customers/{id}"),
    ("GET", CRM, "/customers/{id}/contacts"),
    ("POST", CRM, "/customers/{id}/contacts"),
    ("POST", CRM, "/customers/{id}/tags/{tagTypeId}"),
    ("DELETE", CRM, "/customers/{id}/tags/{tagTypeId}"),
    ("GET", CRM, "/customers/custom-fields"),
    // CRM: locations
    ("GET", CRM, "/locations"),
    ("GET", CRM, "/locations/{id}"),
    ("POST", CRM, "/locations"),
    ("PATCH", CRM, "/locations/{id}"),
    ("POST", CRM, "/locations/{id}/tags/{tagTypeId}"),
    ("GET", CRM, "/locations/custom-fields"),
    // CRM: bookings
    ("GET", CRM, "/bookings"),
    ("GET", CRM, "/bookings/{id}"),
    ("GET", CRM, "/booking-provider/{booking_provider}/bookings"),
    ("POST", CRM, "/booking-provider/{booking_provider}/bookings"),
    (
        "PATCH",
        CRM,
        "/booking-provider/{booking_provider}/bookings/{id}",
    ),
    // JPM
    ("GET", JPM, "/jobs"),
    ("GET", JPM, "/jobs/{id}"),
    ("POST", JPM, "/jobs"),
    ("PATCH", JPM, "/jobs/{id}"),
    ("GET", JPM, "/jobs/{id}/notes"),
    ("POST", JPM, "/jobs/{id}/notes"),
    ("GET", JPM, "/job-types"),
    ("GET", JPM, "/appointments"),
    // Settings
    ("GET", SETTINGS, "/business-units"),
    ("GET", SETTINGS, "/tag-types"),
    ("GET", SETTINGS, "/technicians"),
    // Memberships
    ("GET", MEMBERSHIPS, "/membership-types"),
    (
        "GET",
        MEMBERSHIPS,
        "/membership-types/{id}/duration-billing-items",
    ),
    ("GET", MEMBERSHIPS, "/memberships"),
    ("GET", MEMBERSHIPS, "/memberships/{id}"),
    ("POST", MEMBERSHIPS, "/memberships/sale"),
    ("PATCH", MEMBERSHIPS, "/memberships/{id}"),
    // Dispatch
    ("POST", DISPATCH, "/capacity"),
    ("GET", DISPATCH, "/arrival-windows"),
    // Pricebook, accounting, marketing
    ("GET", PRICEBOOK, "/services"),
    ("GET", ACCOUNTING, "/invoices"),
    ("GET", MARKETING, "/campaigns"),
    // Export feeds
    ("GET", JPM, "/export/jobs"),
    ("GET", JPM, "/export/appointments"),
    ("GET", ACCOUNTING, "/export/invoices"),
    ("GET", MEMBERSHIPS, "/export/memberships"),
    ("GET", CRM, "/export/locations"),
    ("GET", CRM, "/export/bookings"),
    ("GET", CRM, "/export/customers"),
    ("GET", JPM, "/export/job-notes"),
    ("GET", ACCOUNTING, "/export/invoice-items"),
];
