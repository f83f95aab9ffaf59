//! Lambda function `org_update`: serves `tenant::org::update`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::update)
}
