SELECT region, count(*) AS orders, sum(amount) AS amount
FROM {{ df_1 }}
GROUP BY region
ORDER BY region
