//! Lambda function `org_get`: serves `tenant::org::get`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::get).await
}
