//! Lambda function `org_create`: serves `tenant::org::create`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::org::create)
}
