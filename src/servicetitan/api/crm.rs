//! CRM calls: customers, contacts, tags, locations, custom-field types, bookings.
use reqwest::Method;

use super::list_endpoint;
use crate::servicetitan::paths::{self, CRM};
use crate::servicetitan::{
    Booking, BookingPatch, Contact, CustomFieldType, Customer, CustomerPatch, Error, ListQuery,
    Location, LocationPatch, NewBooking, NewCustomer, NewLocation, TenantClient,
};

impl TenantClient {
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

    /// One customer.
    pub async fn customer(&self, id: i64) -> Result<Customer, Error> {
        self.get_json(CRM, &paths::customer(id), &[]).await
    }

    /// Creates a customer with its locations; read the locations back with
    /// `locations(ListQuery::new().customer_id(id))`.
    pub async fn create_customer(&self, body: &NewCustomer) -> Result<Customer, Error> {
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

    /// Tags a customer (idempotent).
    pub async fn add_customer_tag(&self, customer_id: i64, tag_type_id: i64) -> Result<(), Error> {
        self.send_empty(
            Method::POST,
            CRM,
            &paths::customer_tag(customer_id, tag_type_id),
        )
        .await
    }

    /// Removes a tag from a customer.
    pub async fn remove_customer_tag(
        &self,
        customer_id: i64,
        tag_type_id: i64,
    ) -> Result<(), Error> {
        self.send_empty(
            Method::DELETE,
            CRM,
            &paths::customer_tag(customer_id, tag_type_id),
        )
        .await
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

    /// One location.
    pub async fn location(&self, id: i64) -> Result<Location, Error> {
        self.get_json(CRM, &paths::location(id), &[]).await
    }

    /// Creates a location.
    pub async fn create_location(&self, body: &NewLocation) -> Result<Location, Error> {
        self.write_json(Method::POST, CRM, paths::LOCATIONS, body)
            .await
    }

    /// Updates set fields of a location; custom fields merge by `typeId`.
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

    /// One booking.
    pub async fn booking(&self, id: i64) -> Result<Booking, Error> {
        self.get_json(CRM, &paths::booking(id), &[]).await
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
