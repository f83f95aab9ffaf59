//! Lambda function `org_create`: serves `tenant::routes::organizations::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::organizations::create)
}
