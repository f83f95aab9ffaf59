//! Lambda function `dashboard`: serves `tenant::dashboard::dashboard`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::dashboard::dashboard)
}
