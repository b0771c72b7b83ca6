//! `bookings` rows.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "bookings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub partner_id: i64,
    pub location_id: i64,
    pub idempotency_key: String,
    pub trade: String,
    pub condition: String,
    #[sea_orm(column_type = "Text")]
    pub summary: String,
    pub slot_start: Option<DateTimeUtc>,
    pub slot_end: Option<DateTimeUtc>,
    pub arrival_window_start: Option<DateTimeUtc>,
    pub arrival_window_end: Option<DateTimeUtc>,
    pub status: String,
    pub st_job_id: Option<i64>,
    pub st_booking_id: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
