//! Lambda function `operator_resume`: serves `tenant::routes::operator::resume`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::operator::resume)
}
