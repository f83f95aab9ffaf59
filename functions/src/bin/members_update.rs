//! Lambda function `members_update`: serves `tenant::members::change_role`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::members::change_role).await
}
