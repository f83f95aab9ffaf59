//! Lambda function `org_update`: serves `tenant::routes::organizations::update`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::organizations::update)
}
