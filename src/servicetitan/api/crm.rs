//! CRM calls: customers, contacts, tags, locations, custom-field types, bookings.
use reqwest::Method;

use super::list_endpoint;
use crate::servicetitan::paths::{self, CRM};
use crate::servicetitan::{
    Booking, BookingPatch, BookingProviderTag, Contact, CreatedCustomer, CustomFieldType, Customer,
    CustomerPatch, Error, ListQuery, Location, LocationPatch, NewBooking, NewCustomer, NewLocation,
    TenantClient,
};

impl TenantClient {
    /// Checks freshly entered credentials: any cached token for this Client ID is dropped, so
    /// the secret itself is tested, and the token it gets stays cached for the calls that
    /// follow (token requests are throttled: one per client, not one per check).
    pub async fn verify_fresh(&self) -> Result<(), Error> {
        self.shared
            .tokens
            .forget(&self.env, &self.creds.client_id)
            .await;
        self.verify().await
    }

    /// Checks the credentials end to end: a token, then one cheap read.
    pub async fn verify(&self) -> Result<(), Error> {
        self.business_units_page(&ListQuery::new().page_size(1), 1)
            .await
            .map(|_| ())
    }

    list_endpoint!(
        /// Customers (`GET /crm/v2/tenant/{t}/customers`).
        customers, customers_page, Customer, CRM, paths::CUSTOMERS
    );

    /// One customer. The single-record read takes no application GUID (only lists do), so
    /// look our entries up through a list when they matter.
    pub async fn customer(&self, id: i64) -> Result<Customer, Error> {
        self.get_json(CRM, &paths::customer(id), &[]).await
    }

    /// Creates a customer with its locations; the answer carries the new locations with their
    /// IDs. ServiceTitan accepts duplicates: look the member up by `externalData` first.
    pub async fn create_customer(&self, body: &NewCustomer) -> Result<CreatedCustomer, Error> {
        self.write_json(Method::POST, CRM, paths::CUSTOMERS, body)
            .await
    }

    /// Updates set fields of a customer.
    pub async fn patch_customer(&self, id: i64, body: &CustomerPatch) -> Result<Customer, Error> {
        self.write_json(Method::PATCH, CRM, &paths::customer(id), body)
            .await
    }

    /// Every contact of a customer.
    pub async fn customer_contacts(&self, customer_id: i64) -> Result<Vec<Contact>, Error> {
        use futures::TryStreamExt;
        self.stream_of(CRM, paths::customer_contacts(customer_id), ListQuery::new())
            .try_collect()
            .await
    }

    /// Adds a contact to a customer.
    pub async fn create_customer_contact(
        &self,
        customer_id: i64,
        contact: &Contact,
    ) -> Result<Contact, Error> {
        self.write_json(
            Method::POST,
            CRM,
            &paths::customer_contacts(customer_id),
            contact,
        )
        .await
    }

    /// Tags a customer; only this tag is added, the others stay. A 409 (already tagged) is
    /// success.
    pub async fn add_customer_tag(&self, customer_id: i64, tag_type_id: i64) -> Result<(), Error> {
        tolerate(
            self.send_empty(
                Method::POST,
                CRM,
                &paths::customer_tag(customer_id, tag_type_id),
            )
            .await,
            409,
        )
    }

    /// Removes one tag from a customer. A 404 (not tagged) is success.
    pub async fn remove_customer_tag(
        &self,
        customer_id: i64,
        tag_type_id: i64,
    ) -> Result<(), Error> {
        tolerate(
            self.send_empty(
                Method::DELETE,
                CRM,
                &paths::customer_tag(customer_id, tag_type_id),
            )
            .await,
            404,
        )
    }

    /// Tags a location; only this tag is added. A 409 (already tagged) is success.
    pub async fn add_location_tag(&self, location_id: i64, tag_type_id: i64) -> Result<(), Error> {
        tolerate(
            self.send_empty(
                Method::POST,
                CRM,
                &paths::location_tag(location_id, tag_type_id),
            )
            .await,
            409,
        )
    }

    list_endpoint!(
        /// Customer custom-field types.
        customer_custom_field_types, customer_custom_field_types_page, CustomFieldType, CRM,
        paths::CUSTOMER_CUSTOM_FIELDS
    );

    list_endpoint!(
        /// Locations; filter with `customer_id` or `external_data`.
        locations, locations_page, Location, CRM, paths::LOCATIONS
    );

    /// One location. The single-record read takes no application GUID (only lists do).
    pub async fn location(&self, id: i64) -> Result<Location, Error> {
        self.get_json(CRM, &paths::location(id), &[]).await
    }

    /// Creates a location.
    pub async fn create_location(&self, body: &NewLocation) -> Result<Location, Error> {
        self.write_json(Method::POST, CRM, paths::LOCATIONS, body)
            .await
    }

    /// Updates set fields of a location. `customFields` and `tagTypeIds` replace the whole
    /// lists: send what [`merged_custom_fields`](crate::servicetitan::merged_custom_fields)
    /// builds from a fresh read.
    pub async fn patch_location(&self, id: i64, body: &LocationPatch) -> Result<Location, Error> {
        self.write_json(Method::PATCH, CRM, &paths::location(id), body)
            .await
    }

    list_endpoint!(
        /// Location custom-field types (the Comfort Credits field lives here).
        location_custom_field_types, location_custom_field_types_page, CustomFieldType, CRM,
        paths::LOCATION_CUSTOM_FIELDS
    );

    list_endpoint!(
        /// Bookings.
        bookings, bookings_page, Booking, CRM, paths::BOOKINGS
    );

    list_endpoint!(
        /// Booking provider tags (the tenant admin chose one for our app).
        booking_provider_tags, booking_provider_tags_page, BookingProviderTag, CRM,
        paths::BOOKING_PROVIDER_TAGS
    );

    /// One booking.
    pub async fn booking(&self, id: i64) -> Result<Booking, Error> {
        self.get_json(CRM, &paths::booking(id), &[]).await
    }

    /// Bookings made as booking provider `provider` with our `externalId` (ServiceTitan does
    /// not enforce its uniqueness, so a retried create looks here first).
    pub async fn provider_bookings_by_external_id(
        &self,
        provider: i64,
        external_id: &str,
    ) -> Result<Vec<Booking>, Error> {
        use futures::TryStreamExt;
        self.stream_of(
            CRM,
            paths::provider_bookings(provider),
            ListQuery::new().external_id(external_id),
        )
        .try_collect()
        .await
    }

    /// Creates a booking as booking provider `provider` (the booking provider tag ID).
    pub async fn create_booking(&self, provider: i64, body: &NewBooking) -> Result<Booking, Error> {
        self.write_json(Method::POST, CRM, &paths::provider_bookings(provider), body)
            .await
    }

    /// Updates a booking made by booking provider `provider`.
    pub async fn patch_booking(
        &self,
        provider: i64,
        id: i64,
        body: &BookingPatch,
    ) -> Result<Booking, Error> {
        self.write_json(
            Method::PATCH,
            CRM,
            &paths::provider_booking(provider, id),
            body,
        )
        .await
    }
}

/// Treats one status as success (a tag already added, a tag already removed).
fn tolerate(result: Result<(), Error>, ok_status: u16) -> Result<(), Error> {
    match result {
        Err(e) if e.status() == Some(ok_status) => Ok(()),
        other => other,
    }
}
