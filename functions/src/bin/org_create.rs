//! Lambda function `org_create`: serves `tenant::org::create`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::create).await
}
