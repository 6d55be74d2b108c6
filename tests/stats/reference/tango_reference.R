# Reference limits of Tango's score interval (and Newcombe's square-and-add interval)
# for tests/stats/test_paired_score.py, from the R code of Fagerland, Lydersen & Laake,
# "Statistical Analysis of Contingency Tables" (package contingencytables 3.0.0).
# Run once, by hand (CI has no R):
#   Rscript tests/stats/reference/tango_reference.R PATH/TO/contingencytables/R > tests/stats/reference/tango_reference.csv
# The table is n = [[n11, n12], [n21, n22]]; the interval is of (n12 - n21) / N.
args <- commandArgs(trailingOnly = TRUE)
validateArguments <- function(...) invisible(NULL)
contingencytables_result <- function(x, ...) x
for (f in c("Tango_asymptotic_score_CI_paired_2x2", "Newcombe_square_and_add_CI_paired_2x2", "Wilson_score_CI_1x2")) {
  source(file.path(args[1], paste0(f, ".R")))
}
tables <- rbind(
  c(59, 6, 16, 80),  # Cavo et al. 2012 (the book's example)
  c(1, 1, 7, 12),    # Bentur et al. 2009 (the book's example)
  c(10, 0, 0, 5),    # two identical raters on 15 images
  c(15, 0, 0, 0),    # two identical raters, all right
  c(8, 4, 0, 3),     # 4 vs 0 discordant on 15 images (exact McNemar p = 0.125)
  c(0, 15, 0, 0),    # every image discordant one way
  c(120, 30, 18, 32),
  c(3, 2, 9, 1)
)
cat("n11,n12,n21,n22,alpha,tango_low,tango_high,newcombe_low,newcombe_high\n")
for (alpha in c(0.05, 0.01)) {
  for (i in seq_len(nrow(tables))) {
    n <- matrix(tables[i, ], 2, byrow = TRUE)
    t <- Tango_asymptotic_score_CI_paired_2x2(n, alpha)
    w <- Newcombe_square_and_add_CI_paired_2x2(n, alpha)
    cat(sprintf("%d,%d,%d,%d,%g,%.10f,%.10f,%.10f,%.10f\n", n[1, 1], n[1, 2], n[2, 1], n[2, 2], alpha, t$lower, t$upper, w$lower, w$upper))
  }
}
