//! Lambda function `members_remove`: serves `tenant::members::remove`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::members::remove).await
}
