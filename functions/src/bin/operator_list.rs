//! Lambda function `operator_list`: serves `tenant::routes::operator::list`.

fn main() -> Result<(), lambda_http::Error> {
    tenant::lambda::serve(tenant::routes::operator::list)
}
