-- placeholder: filled by the notifications work (durable jobs)
SELECT 1;
