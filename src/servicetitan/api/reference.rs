//! Settings, memberships, dispatch, pricebook, accounting and marketing calls.
use reqwest::Method;

use super::list_endpoint;
use crate::servicetitan::paths::{
    self, ACCOUNTING, DISPATCH, MARKETING, MEMBERSHIPS, PRICEBOOK, SETTINGS,
};
use crate::servicetitan::{
    ArrivalWindow, BusinessUnit, Campaign, CapacityRequest, CapacityResponse, CustomerMembership,
    DurationBillingItem, Error, Invoice, MembershipPatch, MembershipSale, MembershipSaleResult,
    MembershipType, PricebookService, TagType, Technician, TenantClient,
};

impl TenantClient {
    list_endpoint!(
        /// Business units.
        business_units, business_units_page, BusinessUnit, SETTINGS, paths::BUSINESS_UNITS
    );
    list_endpoint!(
        /// Tag types.
        tag_types, tag_types_page, TagType, SETTINGS, paths::TAG_TYPES
    );
    list_endpoint!(
        /// Technicians.
        technicians, technicians_page, Technician, SETTINGS, paths::TECHNICIANS
    );
    list_endpoint!(
        /// Membership types.
        membership_types, membership_types_page, MembershipType, MEMBERSHIPS,
        paths::MEMBERSHIP_TYPES
    );

    /// The duration/billing options of a membership type (for a sale's `durationBillingId`).
    pub async fn membership_duration_billing_items(
        &self,
        membership_type_id: i64,
    ) -> Result<Vec<DurationBillingItem>, Error> {
        self.get_json(
            MEMBERSHIPS,
            &paths::membership_duration_billing(membership_type_id),
            &[],
        )
        .await
    }

    list_endpoint!(
        /// Customer memberships.
        memberships, memberships_page, CustomerMembership, MEMBERSHIPS, paths::MEMBERSHIPS_LIST
    );

    /// One customer membership.
    pub async fn membership(&self, id: i64) -> Result<CustomerMembership, Error> {
        self.get_json(MEMBERSHIPS, &paths::membership(id), &[])
            .await
    }

    /// Sells a membership and reads back the new customer membership.
    pub async fn sell_membership(
        &self,
        sale: &MembershipSale,
    ) -> Result<CustomerMembership, Error> {
        let result: MembershipSaleResult = self
            .write_json(Method::POST, MEMBERSHIPS, paths::MEMBERSHIP_SALE, sale)
            .await?;
        self.membership(result.customer_membership_id).await
    }

    /// Updates a customer membership; ServiceTitan answers only `{id}`.
    pub async fn patch_membership(&self, id: i64, body: &MembershipPatch) -> Result<(), Error> {
        let _: crate::servicetitan::Created = self
            .write_json(Method::PATCH, MEMBERSHIPS, &paths::membership(id), body)
            .await?;
        Ok(())
    }

    /// Capacity slots for a window of at most 14 days. Rows carry tenant-local `start`/`end`;
    /// use `startUtc`/`endUtc`.
    pub async fn capacity(&self, req: &CapacityRequest) -> Result<CapacityResponse, Error> {
        self.write_json(Method::POST, DISPATCH, paths::CAPACITY, req)
            .await
    }

    list_endpoint!(
        /// Arrival windows.
        arrival_windows, arrival_windows_page, ArrivalWindow, DISPATCH, paths::ARRIVAL_WINDOWS
    );
    list_endpoint!(
        /// Pricebook services (no text search: page and filter locally).
        pricebook_services, pricebook_services_page, PricebookService, PRICEBOOK, paths::SERVICES
    );
    list_endpoint!(
        /// Invoices with their items; filter with `job_id`, `customer_id`, `modified_on_or_after`.
        invoices, invoices_page, Invoice, ACCOUNTING, paths::INVOICES
    );
    list_endpoint!(
        /// Marketing campaigns.
        campaigns, campaigns_page, Campaign, MARKETING, paths::CAMPAIGNS
    );
}
