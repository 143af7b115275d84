use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tasks {
    Table,
    Id,
    Status,
    OriginalKey,
    OriginalFilename,
    ContentType,
    SizeBytes,
    Width,
    Height,
    Attempts,
    ErrorCode,
    ErrorMessage,
    ResultKey,
    CreatedAt,
    UpdatedAt,
    StartedAt,
    CompletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tasks::Table)
                    .if_not_exists()
                    .col(pk_uuid(Tasks::Id))
                    .col(
                        string_len(Tasks::Status, 16).check(Expr::col(Tasks::Status).is_in([
                            "PENDING",
                            "PROCESSING",
                            "COMPLETED",
                            "FAILED",
                        ])),
                    )
                    .col(string(Tasks::OriginalKey))
                    .col(text_null(Tasks::OriginalFilename))
                    .col(string(Tasks::ContentType))
                    .col(big_integer(Tasks::SizeBytes))
                    .col(integer(Tasks::Width))
                    .col(integer(Tasks::Height))
                    .col(integer(Tasks::Attempts).default(0))
                    .col(string_null(Tasks::ErrorCode))
                    .col(text_null(Tasks::ErrorMessage))
                    .col(string_null(Tasks::ResultKey))
                    .col(timestamp_with_time_zone_default_now(Tasks::CreatedAt))
                    .col(timestamp_with_time_zone_default_now(Tasks::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Tasks::StartedAt))
                    .col(timestamp_with_time_zone_null(Tasks::CompletedAt))
                    .to_owned(),
            )
            .await?;
        // Listing by status, newest first; and the reaper's scan of unfinished tasks by age.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("idx_tasks_status_created_at")
                    .table(Tasks::Table)
                    .col(Tasks::Status)
                    .col(Tasks::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Tasks::Table).if_exists().to_owned())
            .await
    }
}
