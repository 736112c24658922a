"""Board tops and the host link: UART, link controller, board builds."""
