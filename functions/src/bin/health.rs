//! Lambda function `health`: serves `tenant::service::health`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::service::health)
}
