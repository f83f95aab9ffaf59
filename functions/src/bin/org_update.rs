//! Lambda function `org_update`: serves `tenant::org::update`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::update).await
}
