//! `integrations` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "integrations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    pub tenant_id: Option<i64>,
    pub environment: String,
    pub state: String,
    pub client_id: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub client_secret_enc: Option<String>,
    pub tag_type_id: Option<i64>,
    pub tag_type_name: Option<String>,
    pub credit_field_type_id: Option<i64>,
    pub credit_field_name: Option<String>,
    pub campaign_id: Option<i64>,
    pub campaign_name: Option<String>,
    /// Booking provider tag (`/crm/…/booking-provider/{id}/bookings`) chosen for the app.
    pub booking_provider_id: Option<i64>,
    /// Its name.
    pub booking_provider_name: Option<String>,
    pub capacity_enabled: bool,
    pub capacity_mode: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub state_reason: Option<String>,
    pub submitted_at: Option<DateTimeUtc>,
    pub last_sync_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub backfill_total: i64,
    pub backfill_done: i64,
    pub version: i32,
    /// Sync paused (ops or the partner admin): tasks queue, nothing is written.
    pub sync_paused_at: Option<DateTimeUtc>,
    /// Who paused it.
    pub sync_paused_by: Option<String>,
    /// When the last inbound page was read.
    pub last_inbound_at: Option<DateTimeUtc>,
    /// Consecutive times ServiceTitan refused the credentials (reset by a success).
    pub auth_failures: i32,
    /// ServiceTitan's 403s (a scope the app lacks) since the last reconnect or since a task
    /// refused that way succeeded; not reset by calls to the modules the app still holds.
    pub scope_refusals: i32,
    /// When ops were last alerted about this integration (digest at most hourly).
    pub ops_alert_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
