//! Lambda function `dashboard`: serves `tenant::routes::dashboard::dashboard`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::dashboard::dashboard)
}
