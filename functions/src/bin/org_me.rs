//! Lambda function `org_me`: serves `tenant::org::me`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::me).await
}
